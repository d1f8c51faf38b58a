import type { ProducerState } from './producers'
import type { CommitWork, StorageTransaction, StreamChange, StreamInfo } from './store'

/**
 * The storage contract under the protocol (protocol-store.ts): rows in, rows out, and
 * transactions shaped as lock → decide → write. A backend knows SQL, never a protocol rule:
 * every decision is a synchronous function the protocol passes in and the backend calls with
 * the rows it has locked, so SQLite can run a whole transaction without yielding and PostgreSQL
 * can hold its row locks across round trips.
 */

/** One row of the streams table, as both dialects store it (positions in bytes or messages). */
export interface StoredStream extends StreamInfo {
  lastAccessAt: number
  /** Earliest position still retained (raised by retention). */
  headPos: number
  /** The producer tuple `[id, epoch, seq]` (JSON) whose append closed the stream. */
  closedBy: string | null
  lastStreamSeq: string | null
  forkedFromId: number | null
  forkedFromPath: string | null
  /** Divergence position: positions below it are read from the source. */
  forkPos: number | null
  /** The fork offset as requested (null when it defaulted to the source tail), for idempotent PUTs. */
  forkRequestedOffset: string | null
  forkSubOffset: number
  /** Live forks reading through this stream. */
  refCount: number
  softDeleted: boolean
}

/** One append as stored: its data, JSON message bounds, and how many positions it spans. */
export interface StoredAppend {
  data: Buffer | string
  bounds: string | null
  size: number
}

/** A stored append read back, between its positions. */
export interface DataRow {
  startPos: number
  endPos: number
  data: Buffer | string
  bounds: string | null
}

/** The part of a stream row that appends change. */
export interface AppendState {
  tailPos: number
  closed: boolean
  closedBy: string | null
  lastStreamSeq: string | null
}

/** What one transaction writes to one stream: its new rows, its row after, its producers. */
export interface StreamCommit {
  /** The row as locked (a backend may update a cached row after the commit). */
  stream: StoredStream
  /** The tail as locked: where this commit's data starts. */
  fromPos: number
  rows: DataRow[]
  next: AppendState
  producers: Array<{ id: string, state: ProducerState }>
  /** The stream was read or written at `now`: its sliding TTL starts again. */
  accessedAt: number
}

/** The rows an append transaction has locked, for its decision. */
export interface LockedStreams {
  stream: (path: string) => StoredStream | undefined
  producer: (streamId: number, producerId: string) => ProducerState | undefined
}

export interface AppendRequest {
  paths: string[]
  /** Producer states the decision will ask for. */
  producers: Array<{ path: string, producerId: string }>
}

export interface NewStream {
  path: string
  contentType: string
  ttlSeconds: number | null
  expiresAt: number | null
  closed: boolean
  now: number
  /** Position of the first append (a fork's divergence position; 0 otherwise). */
  startPos: number
  append?: StoredAppend
  fork?: { sourceId: number, sourcePath: string, requestedOffset: string | null, subOffset: number }
}

export type CreateOutcome =
  | { kind: 'created', stream: StoredStream }
  /** Another writer created the path first: decide again against its row. */
  | { kind: 'exists' }
  /** The fork source was deleted meanwhile. */
  | { kind: 'source_gone' }

/** What a removal does, decided by the protocol from the stream and its fork ancestors. */
export type RemovalPlan =
  /** Forks still read it: hidden, kept. */
  | { kind: 'soft', id: number }
  /** Deleted with its data (and soft-deleted sources it was the last fork of); `release` loses one fork. */
  | { kind: 'delete', ids: number[], release?: number }

/** What a removal did: the plan carried out (none if `decide` answered none) and what readers learn. */
export interface Removal {
  plan?: RemovalPlan
  changes: StreamChange[]
}

export interface StreamStorage {
  streamByPath(path: string): Promise<StoredStream | undefined>
  streamById(id: number): Promise<StoredStream | undefined>
  /**
   * One transaction: locks the streams of `request`, loads the producer states it names, asks
   * `decide` what to write, writes it, runs `work` with what `decide` answered, and commits.
   * Returns `decide`'s answer. (SQLite may decide before it opens the transaction: it is the
   * only writer and does not yield in between.)
   */
  append<T>(
    request: AppendRequest,
    decide: (locked: LockedStreams) => { commits: StreamCommit[], results: T },
    work?: (results: T, tx: StorageTransaction) => ReturnType<CommitWork>,
  ): Promise<T>
  create(stream: NewStream): Promise<CreateOutcome>
  /** Rows of a stream overlapping [from, to), in order, at most `limit`. */
  rows(streamId: number, from: number, to: number, limit: number): Promise<DataRow[]>
  /** A sliding TTL starts again at `now` (a backend may persist it lazily if it is the sole writer). */
  touch(stream: StoredStream, now: number): Promise<void>
  /**
   * Locks the stream and its fork ancestors (nearest first) and removes what `decide` answers;
   * `decide` may answer nothing (the stream is no longer to be removed, or is gone).
   */
  remove(id: number, decide: (chain: StoredStream[]) => RemovalPlan | undefined): Promise<Removal>
  /** Retention: drops rows appended before `before` from the head; the positions dropped. */
  trimBefore(id: number, before: number): Promise<{ dropped: number, change?: StreamChange }>
  listPaths(prefix: string): Promise<string[]>
  /** Ids of streams whose expiry or TTL may have passed at `now` (to be checked under lock). */
  expiryCandidates(now: number): Promise<number[]>
  /**
   * Changes committed by other processes, and a call to re-check every watched stream when
   * some may have been missed (a lost notification connection). SQLite has no other writers.
   */
  watch?(handlers: { change: (change: StreamChange) => void, resync: () => void }): void
  /** Current rows of these streams (for a resync); absent ids are gone. */
  streamsById?(ids: number[]): Promise<StoredStream[]>
  dispose(): Promise<void>
}

/** What live readers learn from a commit: the data travels with it. */
export function commitChange(commit: StreamCommit): StreamChange {
  return {
    streamId: commit.stream.id,
    fromPos: commit.fromPos,
    toPos: commit.next.tailPos,
    chunks: commit.rows.map(row => row.data),
    closed: commit.next.closed,
    removed: false,
  }
}

/** What live readers learn from a removal (or a soft delete): they end. */
export function removalChange(stream: StoredStream): StreamChange {
  return { streamId: stream.id, fromPos: stream.tailPos, toPos: stream.tailPos, closed: stream.closed, removed: true }
}
