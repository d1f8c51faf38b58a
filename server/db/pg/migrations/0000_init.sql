CREATE TABLE "idempotency_keys" (
	"session_id" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"offset" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "idempotency_keys_session_id_key_pk" PRIMARY KEY("session_id","key")
);
--> statement-breakpoint
CREATE TABLE "limit_members" (
	"group" text NOT NULL,
	"member" text NOT NULL,
	"counted_at" bigint NOT NULL,
	CONSTRAINT "limit_members_group_member_pk" PRIMARY KEY("group","member")
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"stream_id" bigint NOT NULL,
	"start_pos" bigint NOT NULL,
	"end_pos" bigint NOT NULL,
	"data" "bytea" NOT NULL,
	"bounds" text,
	"created_at" bigint NOT NULL,
	CONSTRAINT "messages_stream_id_end_pos_pk" PRIMARY KEY("stream_id","end_pos")
);
--> statement-breakpoint
CREATE TABLE "producers" (
	"stream_id" bigint NOT NULL,
	"producer_id" text NOT NULL,
	"epoch" bigint NOT NULL,
	"last_seq" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "producers_stream_id_producer_id_pk" PRIMARY KEY("stream_id","producer_id")
);
--> statement-breakpoint
CREATE TABLE "rate_buckets" (
	"key" text PRIMARY KEY NOT NULL,
	"tokens" double precision NOT NULL,
	"updated_at" bigint NOT NULL,
	"granted" boolean DEFAULT true NOT NULL
);
--> statement-breakpoint
CREATE TABLE "session_agents" (
	"agent_id" text NOT NULL,
	"session_id" text NOT NULL,
	CONSTRAINT "session_agents_agent_id_session_id_pk" PRIMARY KEY("agent_id","session_id")
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"title" text NOT NULL,
	"project_id" text,
	"task_id" text,
	"agent_id" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"agent_status" text,
	"public" boolean DEFAULT false NOT NULL,
	"builtin_agent" text,
	"agent_token_hash" text NOT NULL,
	"collaborator_key_hash" text NOT NULL,
	"created_at" bigint NOT NULL,
	"last_activity_at" bigint NOT NULL,
	"ended_at" bigint
);
--> statement-breakpoint
CREATE TABLE "streams" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "streams_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"path" text NOT NULL,
	"content_type" text NOT NULL,
	"ttl_seconds" bigint,
	"expires_at" bigint,
	"last_access_at" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	"tail_pos" bigint DEFAULT 0 NOT NULL,
	"head_pos" bigint DEFAULT 0 NOT NULL,
	"closed" boolean DEFAULT false NOT NULL,
	"closed_by" text,
	"last_stream_seq" text,
	"forked_from_id" bigint,
	"forked_from_path" text,
	"fork_pos" bigint,
	"fork_requested_offset" text,
	"fork_sub_offset" bigint DEFAULT 0 NOT NULL,
	"ref_count" integer DEFAULT 0 NOT NULL,
	"soft_deleted" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE INDEX "idempotency_created_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "limit_members_counted_idx" ON "limit_members" USING btree ("counted_at");--> statement-breakpoint
CREATE INDEX "rate_buckets_updated_idx" ON "rate_buckets" USING btree ("updated_at");--> statement-breakpoint
CREATE INDEX "session_agents_session_idx" ON "session_agents" USING btree ("session_id");--> statement-breakpoint
CREATE INDEX "sessions_created_idx" ON "sessions" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "sessions_activity_idx" ON "sessions" USING btree ("last_activity_at");--> statement-breakpoint
CREATE INDEX "sessions_public_created_idx" ON "sessions" USING btree ("public","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "streams_path_unique" ON "streams" USING btree ("path");