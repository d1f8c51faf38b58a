import { customType, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

/**
 * One row per stream incarnation. A path that is deleted and created again gets a new id, so
 * offsets, ETags and waiters of the old stream can never leak into the new one.
 * Positions are byte counts for byte streams and message counts for JSON streams.
 */
export const streams = sqliteTable('streams', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  path: text('path').notNull(),
  contentType: text('content_type').notNull(),
  ttlSeconds: integer('ttl_seconds'),
  expiresAt: integer('expires_at'),
  lastAccessAt: integer('last_access_at').notNull(),
  createdAt: integer('created_at').notNull(),
  /** Position after the last byte/message: where the next append lands. */
  tailPos: integer('tail_pos').notNull().default(0),
  /** Earliest position still retained (raised by retention). */
  headPos: integer('head_pos').notNull().default(0),
  closed: integer('closed', { mode: 'boolean' }).notNull().default(false),
  /**
   * The producer tuple `[id, epoch, seq]` (JSON) whose append closed the stream: on a closed
   * stream only a retry of exactly that request is a duplicate (204); anything else is 409.
   */
  closedBy: text('closed_by'),
  lastStreamSeq: text('last_stream_seq'),
  forkedFromId: integer('forked_from_id'),
  forkedFromPath: text('forked_from_path'),
  /** Divergence position: positions below it are read from the source. */
  forkPos: integer('fork_pos'),
  /** The fork offset as requested (null when it defaulted to the source tail), for idempotent PUTs. */
  forkRequestedOffset: text('fork_requested_offset'),
  forkSubOffset: integer('fork_sub_offset').notNull().default(0),
  /** Number of live forks reading through this stream. */
  refCount: integer('ref_count').notNull().default(0),
  softDeleted: integer('soft_deleted', { mode: 'boolean' }).notNull().default(false),
}, table => [
  uniqueIndex('streams_path_unique').on(table.path),
])

/** Stored bytes, as SQLite returns them (rows from before JSON appends were stored as bytes are TEXT). */
const streamData = customType<{ data: Buffer | string, driverData: Buffer | string }>({
  dataType: () => 'blob',
})

/**
 * Stream data, one row per append. A byte stream's row holds the appended bytes; a JSON
 * stream's row holds the append's flattened messages joined by commas (the inside of a JSON
 * array, UTF-8), with `bounds` listing the byte offset where each message but the last ends, so
 * a read can start or stop between two messages of one append.
 */
export const messages = sqliteTable('messages', {
  streamId: integer('stream_id').notNull(),
  startPos: integer('start_pos').notNull(),
  endPos: integer('end_pos').notNull(),
  data: streamData('data').notNull(),
  bounds: text('bounds'),
  createdAt: integer('created_at').notNull(),
}, table => [
  primaryKey({ columns: [table.streamId, table.endPos] }),
])

/** Idempotent producer state, committed in the same transaction as the data it accepted. */
export const producers = sqliteTable('producers', {
  streamId: integer('stream_id').notNull(),
  producerId: text('producer_id').notNull(),
  epoch: integer('epoch').notNull(),
  lastSeq: integer('last_seq').notNull(),
  updatedAt: integer('updated_at').notNull(),
}, table => [
  primaryKey({ columns: [table.streamId, table.producerId] }),
])

export type StreamRow = typeof streams.$inferSelect
export type NewStreamRow = typeof streams.$inferInsert
export type MessageRow = typeof messages.$inferSelect
export type ProducerRow = typeof producers.$inferSelect

/** Agent sessions. Tokens and keys are stored only as SHA-256 hashes; they are shown once. */
export const sessions = sqliteTable('sessions', {
  id: text('id').primaryKey(),
  title: text('title').notNull(),
  projectId: text('project_id'),
  taskId: text('task_id'),
  agentId: text('agent_id').notNull(),
  status: text('status', { enum: ['active', 'ended'] }).notNull().default('active'),
  /** The session agent's latest status, kept here so the session list needs no replay. */
  agentStatus: text('agent_status'),
  /** Listed for everyone; an unlisted session is found only by whoever has its id. */
  public: integer('public', { mode: 'boolean' }).notNull().default(false),
  /** An agent this server runs in the session (`ai`: the built-in AI SDK agent); null for agents from outside. */
  builtinAgent: text('builtin_agent', { enum: ['ai'] }),
  agentTokenHash: text('agent_token_hash').notNull(),
  collaboratorKeyHash: text('collaborator_key_hash').notNull(),
  createdAt: integer('created_at').notNull(),
  lastActivityAt: integer('last_activity_at').notNull(),
  endedAt: integer('ended_at'),
}, table => [
  index('sessions_created_idx').on(table.createdAt),
  index('sessions_activity_idx').on(table.lastActivityAt),
  index('sessions_public_created_idx').on(table.public, table.createdAt),
])

/**
 * The agent ids a session registered: its events may name only these, and `agents/<agentId>`
 * receives copies from these sessions only. An id belongs to one session, unless the server
 * token deliberately shares it (one agent followed across sessions); rows go with the session.
 */
export const sessionAgents = sqliteTable('session_agents', {
  agentId: text('agent_id').notNull(),
  sessionId: text('session_id').notNull(),
}, table => [
  primaryKey({ columns: [table.agentId, table.sessionId] }),
  index('session_agents_session_idx').on(table.sessionId),
])

/**
 * Results of writes sent with an Idempotency-Key, committed in the same transaction as the
 * write itself, so a retry after any failure returns the first result and appends nothing.
 */
export const idempotencyKeys = sqliteTable('idempotency_keys', {
  sessionId: text('session_id').notNull(),
  key: text('key').notNull(),
  requestHash: text('request_hash').notNull(),
  offset: text('offset').notNull(),
  createdAt: integer('created_at').notNull(),
}, table => [
  primaryKey({ columns: [table.sessionId, table.key] }),
  index('idempotency_created_idx').on(table.createdAt),
])

export type SessionRow = typeof sessions.$inferSelect
