CREATE TABLE `crm_requests` (
	`key` text PRIMARY KEY NOT NULL,
	`website_id` text NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `crm_requests_expires` ON `crm_requests` (`expires_at`);