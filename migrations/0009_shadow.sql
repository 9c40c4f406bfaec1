CREATE TABLE `shadow_drafts` (
	`id` text PRIMARY KEY NOT NULL,
	`draft_id` text NOT NULL,
	`website_id` text NOT NULL,
	`session_id` text NOT NULL,
	`prompt_name` text,
	`prompt_version` text,
	`provider` text NOT NULL,
	`model` text,
	`text` text DEFAULT '' NOT NULL,
	`confidence` real,
	`latency_ms` integer DEFAULT 0 NOT NULL,
	`tokens_in` integer DEFAULT 0 NOT NULL,
	`tokens_out` integer DEFAULT 0 NOT NULL,
	`cost_usd` real DEFAULT 0 NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`draft_id`) REFERENCES `drafts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `shadow_drafts_draft` ON `shadow_drafts` (`draft_id`);--> statement-breakpoint
CREATE INDEX `shadow_drafts_website` ON `shadow_drafts` (`website_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `shadow_drafts_session` ON `shadow_drafts` (`website_id`,`session_id`);--> statement-breakpoint
CREATE INDEX `shadow_drafts_unpruned` ON `shadow_drafts` (`created_at`) WHERE "shadow_drafts"."text" != '';