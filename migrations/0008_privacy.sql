ALTER TABLE `conversations` ADD `people_id` text;--> statement-breakpoint
ALTER TABLE `conversations` ADD `email_hash` text;--> statement-breakpoint
CREATE INDEX `conversations_people` ON `conversations` (`people_id`);--> statement-breakpoint
CREATE INDEX `conversations_email` ON `conversations` (`email_hash`);--> statement-breakpoint
CREATE INDEX `drafts_unpruned` ON `drafts` (`created_at`) WHERE "drafts"."text" != '' or "drafts"."transcript" is not null or "drafts"."context" is not null or "drafts"."needs_human_reason" is not null;--> statement-breakpoint
CREATE INDEX `feedback_unpruned` ON `feedback` (`created_at`) WHERE "feedback"."final_text" is not null or "feedback"."reason" is not null;--> statement-breakpoint
CREATE INDEX `jobs_unpruned` ON `jobs` (`run_after`) WHERE "jobs"."instructions" is not null;