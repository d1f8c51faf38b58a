/**
 * The engine's contract: everything the HTTP layer and the session layer may do to a stream.
 * Implementations are synchronous and must commit data, tail and producer state together
 * before returning, then wake live readers through `subscribe`.
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
  readonly tailPos: number
  readonly closed: boolean
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
  /** Byte streams may be cut inside an append; JSON messages never are. */
  sliceMessages: boolean
}

/**
 * Stream data as read or appended: Buffers for a byte stream; for a JSON stream, strings each
 * holding one or more messages joined by commas (wrap them all in `[…]` for a JSON array).
 */
export type StreamChunk = Buffer | string

export interface ReadResult {
  stream: StreamInfo
  fromPos: number
  nextPos: number
  chunks: StreamChunk[]
}

/** What a live reader learns after a commit. */
export interface StreamChange {
  streamId: number
  fromPos: number
  toPos: number
  /** The appended data, so readers at `fromPos` need not query the database. */
  chunks: StreamChunk[]
  closed: boolean
  /** The stream was deleted or expired: live readers must end. */
  removed: boolean
}

export type StreamListener = (change: StreamChange) => void

export interface StreamStore {
  create(path: string, options: CreateStreamOptions): CreateResult
  append(path: string, options: AppendOptions): AppendResult
  /**
   * Appends to several streams in one transaction, all or nothing (each stream at most once);
   * `inTransaction` runs inside the same transaction, for records that must commit with the data.
   */
  appendAll(appends: StreamAppend[], inTransaction?: () => void): AppendResult[]
  read(path: string, from: ReadFrom, options: ReadOptions): ReadResult
  /** Metadata without resetting a sliding TTL. */
  head(path: string): StreamInfo
  /** Paths of the live streams under a prefix (e.g. `agents/`), for housekeeping. */
  listPaths(prefix: string): string[]
  delete(path: string): void
  subscribe(streamId: number, listener: StreamListener): () => void
  /** Deletes streams whose TTL or expiry has passed; returns how many. */
  sweepExpired(): number
  /**
   * Retention: drops data appended before `before` (ms) from the head; reads before the new head
   * answer 410. Returns how many positions were dropped.
   */
  trimBefore(path: string, before: number): number
  dispose(): void
}
