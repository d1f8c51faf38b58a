import type { SessionRow } from '../db/schema'
import type { StorageTransaction } from '../streams/store'

/**
 * The session layer's own records (sessions, their registered agents, Idempotency-Key results)
 * behind one interface, with a SQLite and a PostgreSQL implementation. Writes that must commit
 * with stream data take the append's open transaction (`tx`, see StreamStore.appendAll).
 */
export type NewSession = Omit<SessionRow, 'status' | 'agentStatus' | 'endedAt'>

export interface ListFilter {
  /** Public sessions only (otherwise every session: the server token). */
  publicOnly: boolean
  /** Title contains this, literally. */
  q?: string
  /** Newest first, strictly after this (createdAt, id). */
  after?: { createdAt: number, id: string }
  limit: number
}

export interface IdempotencyRecord {
  requestHash: string
  offset: string
  createdAt: number
}

/** What a session write records in its own transaction. */
export interface WriteRecord {
  sessionId: string
  at: number
  /** The write touched the session stream: it counts as activity. */
  activity: boolean
  /** The session agent's new status, if the write set one. */
  agentStatus?: string
  idempotency?: { key: string, requestHash: string, offset: string }
}

/** An Idempotency-Key that another request stored meanwhile: the write rolls back and replays it. */
export class IdempotencyKeyTaken extends Error {
  constructor() {
    super('This Idempotency-Key was stored by a concurrent request')
    this.name = 'IdempotencyKeyTaken'
  }
}

/** Another session registered one of the agent ids (when they may not be shared). */
export class AgentIdTaken extends Error {
  constructor(readonly agentId: string) {
    super(`agentId ${JSON.stringify(agentId)} belongs to another session`)
    this.name = 'AgentIdTaken'
  }
}

export interface SessionRepository {
  /**
   * Stores a session and registers its agents in one transaction. With `exclusive`, throws
   * AgentIdTaken when another session registered one of them — decided inside that
   * transaction, so two concurrent creates never both claim an id.
   */
  insert(session: NewSession, agentIds: string[], exclusive: boolean): Promise<SessionRow>
  /** One of `agentIds` that another session registered, if any. */
  claimedAgentId(agentIds: string[]): Promise<string | undefined>
  find(id: string): Promise<SessionRow | undefined>
  list(filter: ListFilter): Promise<SessionRow[]>
  /** The sessions of these ids that exist, newest first. */
  lookup(ids: string[], q?: string): Promise<SessionRow[]>
  setPublic(id: string, isPublic: boolean): Promise<SessionRow | undefined>
  agentIdsOf(sessionId: string): Promise<string[]>
  idempotencyRecord(sessionId: string, key: string): Promise<IdempotencyRecord | undefined>
  /** In a write's transaction; throws IdempotencyKeyTaken when the key was stored meanwhile. */
  recordWrite(tx: StorageTransaction, write: WriteRecord): void | Promise<void>
  /** In the closing transaction. */
  markEnded(tx: StorageTransaction, sessionId: string, at: number): void | Promise<void>
  /** Active sessions served by this built-in agent. */
  activeWithBuiltinAgent(agent: NonNullable<SessionRow['builtinAgent']>): Promise<SessionRow[]>
  idleSessionIds(activeBefore: number): Promise<string[]>
  sessionIds(): Promise<string[]>
  /** The session row, its agents and its Idempotency-Keys. */
  delete(sessionId: string): Promise<void>
  forgetIdempotencyKeys(createdBefore: number): Promise<void>
  /**
   * Runs `work` while no other call with this name runs — in this process, or on any instance
   * sharing the database (housekeeping such as retention).
   */
  exclusively<T>(name: string, work: () => Promise<T>): Promise<T>
  /**
   * Takes the lock of this name if nobody holds it — in this process, or on any instance sharing
   * the database — and answers its release; answers undefined when it is held. A lock held by a
   * process that dies is free again (long-running work such as the built-in AI agent of a session).
   * `onLost` is called if the lock goes while held (its database connection went): the work must
   * stop, as another instance may now take the lock.
   */
  tryHold(name: string, onLost: () => void): Promise<(() => Promise<void>) | undefined>
}

/** Title search that takes `%`, `_` and `\` literally, for LIKE … ESCAPE '\'. */
export function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, '\\$&')}%`
}
