CREATE TABLE `mcp_calls` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`token_id` text NOT NULL,
	`tool` text NOT NULL,
	`website_id` text NOT NULL,
	`session_id` text,
	`ok` integer NOT NULL,
	`outcome` text NOT NULL,
	`latency_ms` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `mcp_calls_token` ON `mcp_calls` (`token_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `mcp_calls_created` ON `mcp_calls` (`created_at`);--> statement-breakpoint
CREATE TABLE `mcp_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`hash` text NOT NULL,
	`scopes` text NOT NULL,
	`website_id` text,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`revoked_at` integer,
	`last_used_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `mcp_tokens_hash` ON `mcp_tokens` (`hash`);