ALTER TABLE `conversations` ADD `people_id` text;--> statement-breakpoint
ALTER TABLE `conversations` ADD `email_hash` text;--> statement-breakpoint
CREATE INDEX `conversations_people` ON `conversations` (`people_id`);--> statement-breakpoint
CREATE INDEX `conversations_email` ON `conversations` (`email_hash`);--> statement-breakpoint
CREATE INDEX `drafts_created` ON `drafts` (`created_at`);--> statement-breakpoint
CREATE INDEX `feedback_created` ON `feedback` (`created_at`);