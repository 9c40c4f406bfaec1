ALTER TABLE `poll_state` ADD `resume_page` integer;--> statement-breakpoint
ALTER TABLE `poll_state` ADD `resume_watermark` integer;