import { bigint, boolean, customType, doublePrecision, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core'

/**
 * The PostgreSQL schema: the same tables as the SQLite one (server/db/schema.ts, where each is
 * explained), plus the counters every instance shares (rate limits, presence limits), which a
 * single SQLite process keeps in memory. Times are milliseconds since the epoch, positions
 * bytes or messages, as in SQLite.
 */

const ms = (name: string) => bigint(name, { mode: 'number' })
const position = (name: string) => bigint(name, { mode: 'number' })

const bytea = customType<{ data: Buffer, driverData: Buffer }>({ dataType: () => 'bytea' })

export const streams = pgTable('streams', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  path: text('path').notNull(),
  contentType: text('content_type').notNull(),
  ttlSeconds: bigint('ttl_seconds', { mode: 'number' }),
  expiresAt: ms('expires_at'),
  lastAccessAt: ms('last_access_at').notNull(),
  createdAt: ms('created_at').notNull(),
  tailPos: position('tail_pos').notNull().default(0),
  headPos: position('head_pos').notNull().default(0),
  closed: boolean('closed').notNull().default(false),
  closedBy: text('closed_by'),
  lastStreamSeq: text('last_stream_seq'),
  forkedFromId: bigint('forked_from_id', { mode: 'number' }),
  forkedFromPath: text('forked_from_path'),
  forkPos: position('fork_pos'),
  forkRequestedOffset: text('fork_requested_offset'),
  forkSubOffset: position('fork_sub_offset').notNull().default(0),
  refCount: integer('ref_count').notNull().default(0),
  softDeleted: boolean('soft_deleted').notNull().default(false),
}, table => [
  uniqueIndex('streams_path_unique').on(table.path),
])

export const messages = pgTable('messages', {
  streamId: bigint('stream_id', { mode: 'number' }).notNull(),
  startPos: position('start_pos').notNull(),
  endPos: position('end_pos').notNull(),
  data: bytea('data').notNull(),
  bounds: text('bounds'),
  createdAt: ms('created_at').notNull(),
}, table => [
  primaryKey({ columns: [table.streamId, table.endPos] }),
])

export const producers = pgTable('producers', {
  streamId: bigint('stream_id', { mode: 'number' }).notNull(),
  producerId: text('producer_id').notNull(),
  epoch: bigint('epoch', { mode: 'number' }).notNull(),
  lastSeq: bigint('last_seq', { mode: 'number' }).notNull(),
  updatedAt: ms('updated_at').notNull(),
}, table => [
  primaryKey({ columns: [table.streamId, table.producerId] }),
])

export const sessions = pgTable('sessions', {
  id: text('id').primaryKey(),
  title: text('title').notNull(),
  projectId: text('project_id'),
  taskId: text('task_id'),
  agentId: text('agent_id').notNull(),
  status: text('status', { enum: ['active', 'ended'] }).notNull().default('active'),
  agentStatus: text('agent_status'),
  public: boolean('public').notNull().default(false),
  /** The built-in agent that answers the session's prompts, if any. */
  builtinAgent: text('builtin_agent', { enum: ['ai'] }),
  agentTokenHash: text('agent_token_hash').notNull(),
  collaboratorKeyHash: text('collaborator_key_hash').notNull(),
  createdAt: ms('created_at').notNull(),
  lastActivityAt: ms('last_activity_at').notNull(),
  endedAt: ms('ended_at'),
}, table => [
  index('sessions_created_idx').on(table.createdAt),
  index('sessions_activity_idx').on(table.lastActivityAt),
  index('sessions_public_created_idx').on(table.public, table.createdAt),
])

export const sessionAgents = pgTable('session_agents', {
  agentId: text('agent_id').notNull(),
  sessionId: text('session_id').notNull(),
}, table => [
  primaryKey({ columns: [table.agentId, table.sessionId] }),
  index('session_agents_session_idx').on(table.sessionId),
])

export const idempotencyKeys = pgTable('idempotency_keys', {
  sessionId: text('session_id').notNull(),
  key: text('key').notNull(),
  requestHash: text('request_hash').notNull(),
  offset: text('offset').notNull(),
  createdAt: ms('created_at').notNull(),
}, table => [
  primaryKey({ columns: [table.sessionId, table.key] }),
  index('idempotency_created_idx').on(table.createdAt),
])

/** Token buckets of the rate limits (server/sessions/limits.ts), shared by every instance. */
export const rateBuckets = pgTable('rate_buckets', {
  key: text('key').primaryKey(),
  tokens: doublePrecision('tokens').notNull(),
  updatedAt: ms('updated_at').notNull(),
  /** Whether the latest take was granted: what the atomic upsert reports back. */
  granted: boolean('granted').notNull().default(true),
}, table => [
  index('rate_buckets_updated_idx').on(table.updatedAt),
])

/** Distinct members counted per group within a window (presence users per session and hour). */
export const limitMembers = pgTable('limit_members', {
  group: text('group').notNull(),
  member: text('member').notNull(),
  countedAt: ms('counted_at').notNull(),
}, table => [
  primaryKey({ columns: [table.group, table.member] }),
  index('limit_members_counted_idx').on(table.countedAt),
])
