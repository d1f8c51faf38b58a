/**
 * The engine's contract: everything the HTTP layer and the session layer may do to a stream.
 * Every backend (SQLite, PostgreSQL) implements it through one protocol implementation
 * (protocol-store.ts) and must commit data, tail and producer state together before an append
 * resolves, then wake live readers through `subscribe` — on every instance that has them.
 */

export interface StreamInfo {
  /** Internal id of this incarnation of the path (a re-created path gets a new one). */
  readonly id: number
  readonly path: string
  readonly contentType: string
  readonly json: boolean
  readonly ttlSeconds: number | null
  /** Absolute expiry (ms since epoch) for streams created with Stream-Expires-At. */
  readonly expiresAt: number | null
  /** As of the call: live readers learn later tails from `subscribe`. */
  readonly tailPos: number
  readonly closed: boolean
  /** When this incarnation was created (ms since epoch). */
  readonly createdAt: number
}

export interface ForkRequest {
  sourcePath: string
  /** The requested divergence position; the source's tail when omitted. */
  position?: number
  /** Messages (JSON) or bytes past `position`, within the next append. */
  subOffset: number
}

export interface CreateStreamOptions {
  contentType?: string
  ttlSeconds?: number
  expiresAt?: number
  closed: boolean
  body: Buffer
  fork?: ForkRequest
}

export interface CreateResult {
  created: boolean
  stream: StreamInfo
}

export interface ProducerTuple {
  id: string
  epoch: number
  seq: number
}

export interface AppendOptions {
  /** The request's Content-Type; required when the body is not empty. */
  contentType?: string
  body: Buffer
  close: boolean
  streamSeq?: string
  producer?: ProducerTuple
  /**
   * Refuse (`tail_moved`) unless the stream's tail is here when the append commits: the caller
   * decided what to write from the stream's state at this position (the session layer).
   */
  ifTailAt?: number
}

export interface StreamAppend {
  path: string
  options: AppendOptions
}

export interface AppendResult {
  stream: StreamInfo
  /** A producer retry of an append already stored: nothing was written. */
  duplicate: boolean
  /** Producer epoch and highest accepted sequence, when producer headers were sent. */
  producer?: { epoch: number, seq: number }
}

export type ReadFrom =
  | { kind: 'start' }
  | { kind: 'now' }
  | { kind: 'position', position: number }

export interface ReadOptions {
  /** Stop once this many bytes are collected (at least one message is always returned). */
  maxBytes: number
  /**
   * Whether a text stream may be cut inside an append (at a character boundary). Binary streams
   * always may be cut, JSON messages never are.
   */
  cutText: boolean
}

/**
 * Stream data as read or appended: Buffers for a byte stream; for a JSON stream, strings or
 * Buffers each holding one or more messages joined by commas (wrap them in `[…]` for an array).
 */
export type StreamChunk = Buffer | string

export interface ReadResult {
  stream: StreamInfo
  fromPos: number
  nextPos: number
  chunks: StreamChunk[]
}

/**
 * What a live reader learns after a commit, on this instance or another. Changes may arrive out
 * of order across instances: a reader compares positions, and reads from the database whatever
 * lies between its position and `toPos` when `chunks` does not start exactly there.
 */
export interface StreamChange {
  streamId: number
  fromPos: number
  toPos: number
  /**
   * The data between `fromPos` and `toPos`, when it travelled with the change (always on the
   * committing instance, across instances when it fits in a notification). Absent: read it.
   */
  chunks?: StreamChunk[]
  closed: boolean
  /** The stream was deleted or expired: live readers must end. */
  removed: boolean
  /** Retention raised the stream's head: state folded from before it is stale. */
  trimmed?: boolean
}

export type StreamListener = (change: StreamChange) => void

declare const openTransaction: unique symbol
/**
 * The open transaction of a write, as its backend knows it: only repositories of the same
 * backend use it (see appendAll).
 */
export interface StorageTransaction {
  readonly [openTransaction]: true
}

/**
 * Records that must commit with an append (the session layer's): runs inside the append's
 * transaction, after the data is written, with what each append will answer. SQLite requires
 * it to be synchronous (its transactions are); PostgreSQL awaits it. Throwing rolls all back.
 */
export type CommitWork = (results: AppendResult[], tx: StorageTransaction) => void | Promise<void>

export interface StreamStore {
  create(path: string, options: CreateStreamOptions): Promise<CreateResult>
  append(path: string, options: AppendOptions): Promise<AppendResult>
  /** Appends to several streams in one transaction, all or nothing (each stream at most once). */
  appendAll(appends: StreamAppend[], work?: CommitWork): Promise<AppendResult[]>
  read(path: string, from: ReadFrom, options: ReadOptions): Promise<ReadResult>
  /** Metadata without resetting a sliding TTL. */
  head(path: string): Promise<StreamInfo>
  /** Paths of the live streams under a prefix (e.g. `agents/`), for housekeeping. */
  listPaths(prefix: string): Promise<string[]>
  delete(path: string): Promise<void>
  subscribe(streamId: number, listener: StreamListener): () => void
  /** Deletes streams whose TTL or expiry has passed; returns how many. */
  sweepExpired(): Promise<number>
  /**
   * Retention: drops data appended before `before` (ms) from the head; reads before the new head
   * answer 410. Returns how many positions were dropped.
   */
  trimBefore(path: string, before: number): Promise<number>
  dispose(): Promise<void>
}
