import { and, desc, eq, inArray, lt, or, sql } from 'drizzle-orm'
import type { AppDatabase } from '../db/client'
import { idempotencyKeys, sessionAgents, sessions } from '../db/schema'
import type { SessionRow } from '../db/schema'
import { AgentIdTaken, IdempotencyKeyTaken, likePattern } from './repository'
import type { IdempotencyRecord, ListFilter, NewSession, SessionRepository, WriteRecord } from './repository'

/**
 * The session records in the app's SQLite file. Writes inside an append's transaction run
 * synchronously on the same connection, which is already in that transaction.
 */
export class SqliteSessionRepository implements SessionRepository {
  private readonly running = new Map<string, Promise<unknown>>()
  private readonly held = new Set<string>()

  constructor(private readonly db: AppDatabase) {}

  async insert(session: NewSession, agentIds: string[], exclusive: boolean): Promise<SessionRow> {
    // In an explicit transaction: in autocommit mode, an INSERT … RETURNING read with .get()
    // commits only when better-sqlite3 resets the statement, and a commit that fails there (disk
    // full: SQLITE_FULL) is swallowed — the client got a 201 and tokens for a session that was
    // never stored (tests/reliability/faults.test.ts). COMMIT as a statement of its own throws.
    return this.db.transaction((tx) => {
      if (exclusive) {
        const claimed = tx.select({ agentId: sessionAgents.agentId }).from(sessionAgents).where(inArray(sessionAgents.agentId, agentIds)).limit(1).get()
        if (claimed) throw new AgentIdTaken(claimed.agentId)
      }
      const inserted = tx.insert(sessions).values(session).returning().get()
      tx.insert(sessionAgents).values(agentIds.map(agentId => ({ agentId, sessionId: session.id }))).run()
      return inserted
    }, { behavior: 'immediate' })
  }

  async claimedAgentId(agentIds: string[]): Promise<string | undefined> {
    return this.db.select({ agentId: sessionAgents.agentId }).from(sessionAgents).where(inArray(sessionAgents.agentId, agentIds)).limit(1).get()?.agentId
  }

  async find(id: string): Promise<SessionRow | undefined> {
    return this.db.select().from(sessions).where(eq(sessions.id, id)).get()
  }

  async list(filter: ListFilter): Promise<SessionRow[]> {
    const { after } = filter
    return this.db.select().from(sessions).where(and(
      filter.publicOnly ? eq(sessions.public, true) : undefined,
      filter.q ? titleContains(filter.q) : undefined,
      after ? or(lt(sessions.createdAt, after.createdAt), and(eq(sessions.createdAt, after.createdAt), lt(sessions.id, after.id))) : undefined,
    )).orderBy(desc(sessions.createdAt), desc(sessions.id)).limit(filter.limit).all()
  }

  async lookup(ids: string[], q?: string): Promise<SessionRow[]> {
    return this.db.select().from(sessions).where(and(inArray(sessions.id, ids), q ? titleContains(q) : undefined))
      .orderBy(desc(sessions.createdAt), desc(sessions.id)).all()
  }

  async setPublic(id: string, isPublic: boolean): Promise<SessionRow | undefined> {
    return this.db.update(sessions).set({ public: isPublic }).where(eq(sessions.id, id)).returning().get()
  }

  async agentIdsOf(sessionId: string): Promise<string[]> {
    return this.db.select({ agentId: sessionAgents.agentId }).from(sessionAgents).where(eq(sessionAgents.sessionId, sessionId)).all().map(row => row.agentId)
  }

  async idempotencyRecord(sessionId: string, key: string): Promise<IdempotencyRecord | undefined> {
    return this.db.select({ requestHash: idempotencyKeys.requestHash, offset: idempotencyKeys.offset, createdAt: idempotencyKeys.createdAt })
      .from(idempotencyKeys).where(and(eq(idempotencyKeys.sessionId, sessionId), eq(idempotencyKeys.key, key))).get()
  }

  recordWrite(_tx: unknown, write: WriteRecord): void {
    if (write.activity) {
      this.db.update(sessions).set({ lastActivityAt: write.at, ...(write.agentStatus ? { agentStatus: write.agentStatus } : {}) })
        .where(eq(sessions.id, write.sessionId)).run()
    }
    if (write.idempotency) {
      const { key, requestHash, offset } = write.idempotency
      const stored = this.db.insert(idempotencyKeys).values({ sessionId: write.sessionId, key, requestHash, offset, createdAt: write.at })
        .onConflictDoNothing().run()
      if (stored.changes === 0) throw new IdempotencyKeyTaken()
    }
  }

  markEnded(_tx: unknown, sessionId: string, at: number): void {
    this.db.update(sessions).set({ status: 'ended', endedAt: at }).where(eq(sessions.id, sessionId)).run()
  }

  async activeWithBuiltinAgent(agent: NonNullable<SessionRow['builtinAgent']>): Promise<SessionRow[]> {
    return this.db.select().from(sessions).where(and(eq(sessions.builtinAgent, agent), eq(sessions.status, 'active'))).all()
  }

  async idleSessionIds(activeBefore: number): Promise<string[]> {
    return this.db.select({ id: sessions.id }).from(sessions).where(lt(sessions.lastActivityAt, activeBefore)).all().map(row => row.id)
  }

  async sessionIds(): Promise<string[]> {
    return this.db.select({ id: sessions.id }).from(sessions).all().map(row => row.id)
  }

  async delete(sessionId: string): Promise<void> {
    this.db.transaction((tx) => {
      tx.delete(idempotencyKeys).where(eq(idempotencyKeys.sessionId, sessionId)).run()
      tx.delete(sessionAgents).where(eq(sessionAgents.sessionId, sessionId)).run()
      tx.delete(sessions).where(eq(sessions.id, sessionId)).run()
    })
  }

  async forgetIdempotencyKeys(createdBefore: number): Promise<void> {
    this.db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, createdBefore)).run()
  }

  /** One process owns the file: a lock is a name in its memory, and cannot be lost (no `onLost`). */
  async tryHold(name: string): Promise<(() => Promise<void>) | undefined> {
    if (this.held.has(name)) return undefined
    this.held.add(name)
    return async () => {
      this.held.delete(name)
    }
  }

  /** One process owns the file: calls with one name simply queue up. */
  async exclusively<T>(name: string, work: () => Promise<T>): Promise<T> {
    const current = (this.running.get(name) ?? Promise.resolve()).catch(() => {}).then(work)
    this.running.set(name, current)
    try {
      return await current
    }
    finally {
      if (this.running.get(name) === current) this.running.delete(name)
    }
  }
}

function titleContains(q: string) {
  return sql`${sessions.title} LIKE ${likePattern(q)} ESCAPE '\\'`
}
