import { and, desc, eq, inArray, lt, or, sql } from 'drizzle-orm'
import type { SQLWrapper } from 'drizzle-orm'
import type { Sql, TransactionSql } from 'postgres'
import type { SessionRow } from '../db/schema'
import type { PgDatabase } from '../db/pg/client'
import { idempotencyKeys, sessionAgents, sessions } from '../db/pg/schema'
import type { StorageTransaction } from '../streams/store'
import { PostgresHeldLocks } from './postgres-held-locks'
import { AgentIdTaken, IdempotencyKeyTaken, likePattern } from './repository'
import type { IdempotencyRecord, ListFilter, NewSession, SessionRepository, WriteRecord } from './repository'

/** Advisory-lock keys: one for `exclusively`'s names, one per agent id being claimed (tryHold's: postgres-held-locks.ts). */
const EXCLUSIVE_LOCKS = 719_043_102
const AGENT_CLAIMS = 719_043_103

/**
 * The session records in PostgreSQL, through Drizzle's query builder. Writes inside an
 * append's transaction run on that transaction's connection (the builder's SQL, executed there).
 */
export class PostgresSessionRepository implements SessionRepository {
  private readonly heldLocks: PostgresHeldLocks

  constructor(private readonly db: PgDatabase, private readonly client: Sql) {
    this.heldLocks = new PostgresHeldLocks(client)
  }

  insert(session: NewSession, agentIds: string[], exclusive: boolean): Promise<SessionRow> {
    return this.db.transaction(async (tx) => {
      if (exclusive) {
        // Two creates claiming one id take turns here, so the second sees the first's row.
        for (const agentId of [...agentIds].sort())
          await tx.execute(sql`select pg_advisory_xact_lock(${AGENT_CLAIMS}, hashtext(${agentId}))`)
        const [claimed] = await tx.select({ agentId: sessionAgents.agentId }).from(sessionAgents).where(inArray(sessionAgents.agentId, agentIds)).limit(1)
        if (claimed) throw new AgentIdTaken(claimed.agentId)
      }
      const [inserted] = await tx.insert(sessions).values(session).returning()
      await tx.insert(sessionAgents).values(agentIds.map(agentId => ({ agentId, sessionId: session.id })))
      return inserted!
    })
  }

  async claimedAgentId(agentIds: string[]): Promise<string | undefined> {
    const [claimed] = await this.db.select({ agentId: sessionAgents.agentId }).from(sessionAgents).where(inArray(sessionAgents.agentId, agentIds)).limit(1)
    return claimed?.agentId
  }

  async find(id: string): Promise<SessionRow | undefined> {
    const [row] = await this.db.select().from(sessions).where(eq(sessions.id, id))
    return row
  }

  list(filter: ListFilter): Promise<SessionRow[]> {
    const { after } = filter
    return this.db.select().from(sessions).where(and(
      filter.publicOnly ? eq(sessions.public, true) : undefined,
      filter.q ? titleContains(filter.q) : undefined,
      after ? or(lt(sessions.createdAt, after.createdAt), and(eq(sessions.createdAt, after.createdAt), lt(sessions.id, after.id))) : undefined,
    )).orderBy(desc(sessions.createdAt), desc(sessions.id)).limit(filter.limit)
  }

  lookup(ids: string[], q?: string): Promise<SessionRow[]> {
    return this.db.select().from(sessions).where(and(inArray(sessions.id, ids), q ? titleContains(q) : undefined))
      .orderBy(desc(sessions.createdAt), desc(sessions.id))
  }

  async setPublic(id: string, isPublic: boolean): Promise<SessionRow | undefined> {
    const [row] = await this.db.update(sessions).set({ public: isPublic }).where(eq(sessions.id, id)).returning()
    return row
  }

  async agentIdsOf(sessionId: string): Promise<string[]> {
    const rows = await this.db.select({ agentId: sessionAgents.agentId }).from(sessionAgents).where(eq(sessionAgents.sessionId, sessionId))
    return rows.map(row => row.agentId)
  }

  async idempotencyRecord(sessionId: string, key: string): Promise<IdempotencyRecord | undefined> {
    const [row] = await this.db.select({ requestHash: idempotencyKeys.requestHash, offset: idempotencyKeys.offset, createdAt: idempotencyKeys.createdAt })
      .from(idempotencyKeys).where(and(eq(idempotencyKeys.sessionId, sessionId), eq(idempotencyKeys.key, key)))
    return row
  }

  async recordWrite(tx: StorageTransaction, write: WriteRecord): Promise<void> {
    const statements: Array<Promise<unknown[]>> = []
    if (write.activity) {
      statements.push(run(tx, this.db.update(sessions).set({ lastActivityAt: write.at, ...(write.agentStatus ? { agentStatus: write.agentStatus } : {}) })
        .where(eq(sessions.id, write.sessionId))))
    }
    if (write.idempotency) {
      const { key, requestHash, offset } = write.idempotency
      statements.push(run(tx, this.db.insert(idempotencyKeys).values({ sessionId: write.sessionId, key, requestHash, offset, createdAt: write.at })
        .onConflictDoNothing().returning({ key: idempotencyKeys.key })))
    }
    const results = await Promise.all(statements)
    if (write.idempotency && results.at(-1)!.length === 0) throw new IdempotencyKeyTaken()
  }

  async markEnded(tx: StorageTransaction, sessionId: string, at: number): Promise<void> {
    await run(tx, this.db.update(sessions).set({ status: 'ended', endedAt: at }).where(eq(sessions.id, sessionId)))
  }

  activeWithBuiltinAgent(agent: NonNullable<SessionRow['builtinAgent']>): Promise<SessionRow[]> {
    return this.db.select().from(sessions).where(and(eq(sessions.builtinAgent, agent), eq(sessions.status, 'active')))
  }

  async idleSessionIds(activeBefore: number): Promise<string[]> {
    const rows = await this.db.select({ id: sessions.id }).from(sessions).where(lt(sessions.lastActivityAt, activeBefore))
    return rows.map(row => row.id)
  }

  async sessionIds(): Promise<string[]> {
    const rows = await this.db.select({ id: sessions.id }).from(sessions)
    return rows.map(row => row.id)
  }

  async delete(sessionId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.delete(idempotencyKeys).where(eq(idempotencyKeys.sessionId, sessionId))
      await tx.delete(sessionAgents).where(eq(sessionAgents.sessionId, sessionId))
      await tx.delete(sessions).where(eq(sessions.id, sessionId))
    })
  }

  async forgetIdempotencyKeys(createdBefore: number): Promise<void> {
    await this.db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, createdBefore))
  }

  tryHold(name: string, onLost: () => void): Promise<(() => Promise<void>) | undefined> {
    return this.heldLocks.tryHold(name, onLost)
  }

  /**
   * A session-level advisory lock on a connection of its own, held while `work` runs: the same
   * name on another instance waits for it. If this process dies, its connection closes and
   * the lock is released.
   */
  async exclusively<T>(name: string, work: () => Promise<T>): Promise<T> {
    const connection = await this.client.reserve()
    try {
      await connection`select pg_advisory_lock(${EXCLUSIVE_LOCKS}, hashtext(${name}))`
      try {
        return await work()
      }
      finally {
        await connection`select pg_advisory_unlock(${EXCLUSIVE_LOCKS}, hashtext(${name}))`
      }
    }
    finally {
      connection.release()
    }
  }
}

/** A query built with Drizzle, run on an append's open transaction; the rows it returns. */
function run(tx: StorageTransaction, query: SQLWrapper & { toSQL: () => { sql: string, params: unknown[] } }): Promise<unknown[]> {
  const { sql: text, params } = query.toSQL()
  return (tx as unknown as TransactionSql).unsafe(text, params as never[])
}

/** ILIKE: PostgreSQL's LIKE minds case, and titles are searched as on SQLite, whose LIKE does not. */
function titleContains(q: string) {
  return sql`${sessions.title} ILIKE ${likePattern(q)} ESCAPE '\\'`
}
