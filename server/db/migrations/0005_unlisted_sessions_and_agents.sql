CREATE TABLE `session_agents` (
	`agent_id` text NOT NULL,
	`session_id` text NOT NULL,
	PRIMARY KEY(`agent_id`, `session_id`)
);
--> statement-breakpoint
CREATE INDEX `session_agents_session_idx` ON `session_agents` (`session_id`);--> statement-breakpoint
ALTER TABLE `sessions` ADD `public` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX `sessions_public_created_idx` ON `sessions` (`public`,`created_at`);--> statement-breakpoint
-- Sessions from before agent registration keep their own agent (ids only named in events are not registered).
INSERT INTO `session_agents` (`agent_id`, `session_id`) SELECT `agent_id`, `id` FROM `sessions`;
