CREATE TABLE `triage_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`website_id` text NOT NULL,
	`session_id` text NOT NULL,
	`job_id` text NOT NULL,
	`draft_id` text,
	`phase` text NOT NULL,
	`rules` text NOT NULL,
	`actions` text NOT NULL,
	`results` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `triage_runs_session` ON `triage_runs` (`website_id`,`session_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `triage_runs_job` ON `triage_runs` (`job_id`);--> statement-breakpoint
CREATE TABLE `website_settings` (
	`website_id` text PRIMARY KEY NOT NULL,
	`settings` text NOT NULL,
	`updated_at` integer NOT NULL
);
