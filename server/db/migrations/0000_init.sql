CREATE TABLE `messages` (
	`stream_id` integer NOT NULL,
	`start_pos` integer NOT NULL,
	`end_pos` integer NOT NULL,
	`append_end` integer NOT NULL,
	`data` blob NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`stream_id`, `end_pos`)
);
--> statement-breakpoint
CREATE TABLE `producers` (
	`stream_id` integer NOT NULL,
	`producer_id` text NOT NULL,
	`epoch` integer NOT NULL,
	`last_seq` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`stream_id`, `producer_id`)
);
--> statement-breakpoint
CREATE TABLE `streams` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`path` text NOT NULL,
	`content_type` text NOT NULL,
	`ttl_seconds` integer,
	`expires_at` integer,
	`last_access_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	`tail_pos` integer DEFAULT 0 NOT NULL,
	`head_pos` integer DEFAULT 0 NOT NULL,
	`closed` integer DEFAULT false NOT NULL,
	`last_stream_seq` text,
	`forked_from_id` integer,
	`forked_from_path` text,
	`fork_pos` integer,
	`fork_requested_offset` text,
	`fork_sub_offset` integer DEFAULT 0 NOT NULL,
	`ref_count` integer DEFAULT 0 NOT NULL,
	`soft_deleted` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `streams_path_unique` ON `streams` (`path`);