CREATE TABLE `drafts` (
	`id` text PRIMARY KEY NOT NULL,
	`job_id` text NOT NULL,
	`website_id` text NOT NULL,
	`session_id` text NOT NULL,
	`customer_fingerprint` integer NOT NULL,
	`text` text NOT NULL,
	`mode` text NOT NULL,
	`status` text NOT NULL,
	`confidence` real,
	`intent` text,
	`language` text,
	`needs_human` integer DEFAULT false NOT NULL,
	`needs_human_reason` text,
	`citations` text DEFAULT '[]' NOT NULL,
	`flags` text DEFAULT '[]' NOT NULL,
	`policy_reasons` text DEFAULT '[]' NOT NULL,
	`provider` text,
	`model` text,
	`prompt_name` text,
	`prompt_version` text,
	`variant` text,
	`tokens_in` integer DEFAULT 0 NOT NULL,
	`tokens_out` integer DEFAULT 0 NOT NULL,
	`tokens_cached` integer DEFAULT 0 NOT NULL,
	`cost_usd` real DEFAULT 0 NOT NULL,
	`latency` text DEFAULT '{}' NOT NULL,
	`transcript` text,
	`marker_fingerprint` integer,
	`posted_fingerprint` integer,
	`error` text,
	`created_at` integer NOT NULL,
	`posted_at` integer,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `drafts_session` ON `drafts` (`website_id`,`session_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `drafts_job` ON `drafts` (`job_id`);--> statement-breakpoint
CREATE INDEX `drafts_prompt` ON `drafts` (`prompt_version`);--> statement-breakpoint
CREATE TABLE `feedback` (
	`id` text PRIMARY KEY NOT NULL,
	`draft_id` text NOT NULL,
	`website_id` text NOT NULL,
	`session_id` text NOT NULL,
	`kind` text NOT NULL,
	`operator_id` text,
	`operator_name` text,
	`final_text` text,
	`similarity` real,
	`reason` text,
	`source_key` text,
	`delay_ms` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`draft_id`) REFERENCES `drafts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `feedback_source` ON `feedback` (`source_key`);--> statement-breakpoint
CREATE INDEX `feedback_draft` ON `feedback` (`draft_id`);--> statement-breakpoint
CREATE TABLE `inbox_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`website_id` text NOT NULL,
	`delivery_key` text NOT NULL,
	`event` text NOT NULL,
	`session_id` text,
	`fingerprint` integer,
	`payload` text NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `inbox_events_delivery_key` ON `inbox_events` (`delivery_key`);--> statement-breakpoint
CREATE INDEX `inbox_events_received` ON `inbox_events` (`received_at`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`website_id` text NOT NULL,
	`session_id` text NOT NULL,
	`fingerprint` integer NOT NULL,
	`message_at` integer NOT NULL,
	`command_key` text DEFAULT '' NOT NULL,
	`kind` text DEFAULT 'draft' NOT NULL,
	`status` text NOT NULL,
	`trigger` text NOT NULL,
	`instructions` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer DEFAULT 5 NOT NULL,
	`run_after` integer NOT NULL,
	`lease_owner` text,
	`lease_expires_at` integer,
	`last_error` text,
	`outcome` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_message` ON `jobs` (`website_id`,`session_id`,`fingerprint`,`command_key`);--> statement-breakpoint
CREATE INDEX `jobs_due` ON `jobs` (`status`,`run_after`);--> statement-breakpoint
CREATE INDEX `jobs_session` ON `jobs` (`website_id`,`session_id`,`status`);--> statement-breakpoint
CREATE TABLE `llm_calls` (
	`id` text PRIMARY KEY NOT NULL,
	`draft_id` text,
	`job_id` text,
	`website_id` text NOT NULL,
	`provider` text NOT NULL,
	`model` text,
	`status` text NOT NULL,
	`latency_ms` integer NOT NULL,
	`tokens_in` integer DEFAULT 0 NOT NULL,
	`tokens_out` integer DEFAULT 0 NOT NULL,
	`tokens_cached` integer DEFAULT 0 NOT NULL,
	`cost_usd` real DEFAULT 0 NOT NULL,
	`error` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `llm_calls_job` ON `llm_calls` (`job_id`);--> statement-breakpoint
CREATE INDEX `llm_calls_created` ON `llm_calls` (`created_at`);--> statement-breakpoint
CREATE TABLE `poll_state` (
	`website_id` text PRIMARY KEY NOT NULL,
	`watermark` integer NOT NULL,
	`last_run_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `prompt_versions` (
	`hash` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`body` text NOT NULL,
	`created_at` integer NOT NULL
);
