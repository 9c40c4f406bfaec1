CREATE TABLE `conversations` (
	`website_id` text NOT NULL,
	`session_id` text NOT NULL,
	`paused` integer DEFAULT false NOT NULL,
	`changed_by` text,
	`paused_at` integer,
	`resumed_at` integer,
	`resolved_at` integer,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`website_id`, `session_id`)
);
--> statement-breakpoint
CREATE INDEX `conversations_paused` ON `conversations` (`paused`,`updated_at`);--> statement-breakpoint
CREATE TABLE `embeddings` (
	`model` text NOT NULL,
	`hash` text NOT NULL,
	`vector` text NOT NULL,
	`scale` real NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`model`, `hash`)
);
