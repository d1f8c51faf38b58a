import { randomUUID } from 'node:crypto'
import { and, desc, eq, lt, or, sql } from 'drizzle-orm'
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import type {
  CreateSessionBody, CreatedSession, PresenceBody, SessionDetails, SessionList, SessionSnapshot,
  SessionSummary, WriteResult,
} from '#shared/sessions/api'
import { SessionEventSchema } from '#shared/sessions/channels'
import type { Presence, SessionEvent, SessionEventInput } from '#shared/sessions/channels'
import { nextPresence } from '#shared/sessions/presence'
import { hasEntity } from '#shared/sessions/reducer'
import { selectParticipants } from '#shared/sessions/selectors'
import { keyOf, toChange } from '#shared/sessions/wire'
import type { ChangeOperation, SessionChange } from '#shared/sessions/wire'
import { idempotencyKeys, sessions } from '../db/schema'
import type { SessionRow } from '../db/schema'
import { StreamError } from '../streams/errors'
import { formatOffset } from '../streams/offsets'
import type { StreamAppend, StreamStore } from '../streams/store'
import { assertCanManage, assertCanWrite, resolveRole } from './access'
import type { Credentials, Role } from './access'
import { SessionError } from './errors'
import type { StreamMaterializer } from './materializer'
import { hashSecret, newSecret, newSessionId } from './secrets'

export const sessionStreamPath = (sessionId: string) => `sessions/${sessionId}`
export const presenceStreamPath = (sessionId: string) => `sessions/${sessionId}/presence`
export const agentStreamPath = (agentId: string) => `agents/${agentId}`

const STREAM_URL_PREFIX = '/v1/stream/'
const JSON_TYPE = 'application/json'
/** A Idempotency-Key is honoured at least this long. */
export const IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000

export interface SessionServiceOptions {
  now?: () => number
  isServerToken: (token: string) => boolean
}

export interface Idempotency {
  key: string
  /** Hash of what was sent, so a key reused for a different request is refused. */
  requestHash: string
}

export interface ListQuery {
  limit: number
  cursor?: string
  q?: string
}

/** An event to write, with the State Protocol operation when it is not simply insert-or-update. */
interface PendingEvent {
  event: SessionEvent
  operation?: ChangeOperation
}

type Db = BetterSQLite3Database<Record<string, never>>

/**
 * Agent sessions on top of the stream engine: `sessions/<id>` carries chunks, tool calls,
 * terminal, workflow and agent state; `sessions/<id>/presence` carries presence; and
 * `agents/<agentId>` a copy of every event naming the agent, written in the same transaction.
 */
export class SessionService {
  private readonly now: () => number

  constructor(
    private readonly db: Db,
    private readonly store: StreamStore,
    private readonly materializer: StreamMaterializer,
    private readonly options: SessionServiceOptions,
  ) {
    this.now = options.now ?? Date.now
  }

  create(body: CreateSessionBody, origin: string): CreatedSession {
    const id = newSessionId()
    const agentToken = newSecret()
    const collaboratorKey = newSecret()
    const now = this.now()
    const agentId = body.agentId ?? `agent-${id.slice(0, 8)}`
    const json = { contentType: JSON_TYPE, closed: false, body: Buffer.alloc(0) }
    this.store.create(agentStreamPath(agentId), json)
    this.store.create(sessionStreamPath(id), json)
    this.store.create(presenceStreamPath(id), json)
    // In an explicit transaction: in autocommit mode, an INSERT … RETURNING read with .get()
    // commits only when better-sqlite3 resets the statement, and a commit that fails there (disk
    // full: SQLITE_FULL) is swallowed — the client got a 201 and tokens for a session that was
    // never stored (tests/reliability/faults.test.ts). COMMIT as a statement of its own throws.
    // If this fails, the two empty streams above are left without a session; retention removes them.
    const row = this.db.transaction(tx => tx.insert(sessions).values({
      id,
      title: body.title ?? `Session ${new Date(now).toISOString().slice(0, 16).replace('T', ' ')}`,
      projectId: body.projectId ?? null,
      taskId: body.taskId ?? null,
      agentId,
      agentTokenHash: hashSecret(agentToken),
      collaboratorKeyHash: hashSecret(collaboratorKey),
      createdAt: now,
      lastActivityAt: now,
    }).returning().get())
    const summary = this.summarize(row)
    return {
      ...summary,
      ...this.streamUrls(row),
      shareUrl: `${origin}${summary.url}`,
      collaborateUrl: `${origin}${summary.url}?key=${collaboratorKey}`,
      agentToken,
      collaboratorKey,
    }
  }

  list(query: ListQuery): SessionList {
    const conditions = []
    if (query.q) conditions.push(sql`${sessions.title} LIKE ${`%${query.q.replace(/[\\%_]/g, '\\$&')}%`} ESCAPE '\\'`)
    const after = query.cursor ? decodeCursor(query.cursor) : undefined
    if (after) {
      conditions.push(or(lt(sessions.createdAt, after.createdAt), and(eq(sessions.createdAt, after.createdAt), lt(sessions.id, after.id))))
    }
    const rows = this.db.select().from(sessions).where(and(...conditions))
      .orderBy(desc(sessions.createdAt), desc(sessions.id)).limit(query.limit + 1).all()
    const page = rows.slice(0, query.limit)
    const last = page.at(-1)
    return {
      sessions: page.map(row => this.summarize(row)),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null,
    }
  }

  details(sessionId: string): SessionDetails {
    const row = this.requireSession(sessionId)
    const presence = this.materializer.get(presenceStreamPath(sessionId))
    return {
      ...this.summarize(row),
      ...this.streamUrls(row),
      presence: Object.values(presence.state.presence),
      presenceOffset: formatOffset(presence.pos),
    }
  }

  /** The materialised session and the offset it stands at, copied so later writes cannot leak in. */
  snapshot(sessionId: string): SessionSnapshot {
    const row = this.requireSession(sessionId)
    const main = this.materializer.get(sessionStreamPath(sessionId))
    const presence = this.materializer.get(presenceStreamPath(sessionId))
    return structuredClone({
      session: this.summarize(row),
      offset: formatOffset(main.pos),
      state: { ...main.state, presence: presence.state.presence },
      presenceOffset: formatOffset(presence.pos),
    })
  }

  role(sessionId: string, credentials: Credentials): Role {
    return resolveRole(this.requireSession(sessionId), credentials, this.options.isServerToken)
  }

  /** Validates, authorises and appends events; returns where they landed. */
  publish(sessionId: string, inputs: SessionEventInput[], role: Role, idempotency?: Idempotency): WriteResult {
    const session = this.requireSession(sessionId)
    const timestamp = new Date(this.now()).toISOString()
    const events = inputs.map(input => completeEvent(session.id, input, timestamp))
    // Permission first: replaying a key is no way around the capability rules.
    for (const event of events) assertCanWrite(role, event)
    const replay = this.replay(sessionId, idempotency)
    if (replay) return replay
    assertActive(session)
    return this.write(session, events.map(event => ({ event })), idempotency)
  }

  /** Join, heartbeat, update or leave: one presence record per user, on the presence stream. */
  updatePresence(sessionId: string, body: PresenceBody, idempotency?: Idempotency): WriteResult {
    const session = this.requireSession(sessionId)
    const replay = this.replay(sessionId, idempotency)
    if (replay) return replay
    assertActive(session)
    const presencePath = presenceStreamPath(sessionId)
    const existing: Presence | undefined = this.materializer.get(presencePath).state.presence[body.userId]
    if (body.action === 'leave' && !existing) return { ok: true, offset: this.tailOffset(presencePath)! }
    const data = nextPresence(sessionId, body, existing, new Date(this.now()).toISOString())
    const event = SessionEventSchema.parse({ channel: 'presence', data })
    return this.write(session, [{ event, operation: body.action === 'leave' ? 'delete' : undefined }], idempotency)
  }

  /** Ends the session: both streams are closed, so every reader sees EOF. Idempotent. */
  close(sessionId: string, role: Role): WriteResult {
    assertCanManage(role, 'Closing a session')
    const session = this.requireSession(sessionId)
    const mainPath = sessionStreamPath(sessionId)
    if (session.status === 'active') {
      const close = { body: Buffer.alloc(0), close: true }
      this.store.appendAll([{ path: mainPath, options: close }, { path: presenceStreamPath(sessionId), options: close }], () => {
        this.db.update(sessions).set({ status: 'ended', endedAt: this.now() }).where(eq(sessions.id, sessionId)).run()
      })
    }
    return { ok: true, offset: this.tailOffset(mainPath)! }
  }

  delete(sessionId: string, role: Role): void {
    assertCanManage(role, 'Deleting a session')
    this.requireSession(sessionId)
    this.remove(sessionId)
  }

  /**
   * Retention: events older than `retentionDays` leave the head of session and agent streams,
   * presence keeps `presenceMinutes`, idle sessions go entirely, and idempotency keys older
   * than a day are forgotten.
   */
  applyRetention(now: number, retentionDays: number, presenceMinutes: number): { deletedSessions: number, trimmedStreams: number } {
    const cutoff = now - retentionDays * 24 * 60 * 60 * 1000
    const idle = this.db.select({ id: sessions.id }).from(sessions).where(lt(sessions.lastActivityAt, cutoff)).all()
    for (const { id } of idle) this.remove(id)
    let trimmedStreams = 0
    const trim = (path: string, before: number) => {
      try {
        if (this.store.trimBefore(path, before) === 0) return
      }
      catch (error) {
        if (error instanceof StreamError) return
        throw error
      }
      trimmedStreams++
      this.materializer.drop(path)
    }
    for (const { id } of this.db.select({ id: sessions.id }).from(sessions).all()) {
      trim(sessionStreamPath(id), cutoff)
      trim(presenceStreamPath(id), now - presenceMinutes * 60 * 1000)
    }
    // Every agent stream, including those of deleted sessions and of agents only named in events.
    for (const path of this.store.listPaths(agentStreamPath(''))) trim(path, cutoff)
    this.removeOrphanStreams()
    this.db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, now - IDEMPOTENCY_RETENTION_MS)).run()
    return { deletedSessions: idle.length, trimmedStreams }
  }

  /**
   * Empty `sessions/<id>` streams whose session was never stored: create() makes the streams
   * first, so a failed insert (disk full) or a kill -9 in between leaves them behind. Nobody
   * ever learnt their id; only empty ones go, so nothing written is ever removed here.
   */
  private removeOrphanStreams(): void {
    const known = new Set(this.db.select({ id: sessions.id }).from(sessions).all().map(row => row.id))
    for (const path of this.store.listPaths(sessionStreamPath(''))) {
      const id = path.slice(sessionStreamPath('').length).split('/')[0]!
      if (known.has(id)) continue
      try {
        if (this.store.head(path).tailPos === 0) this.store.delete(path)
      }
      catch (error) {
        if (!(error instanceof StreamError)) throw error
      }
    }
  }

  requireSession(sessionId: string): SessionRow {
    const row = this.db.select().from(sessions).where(eq(sessions.id, sessionId)).get()
    if (!row) throw new SessionError('not_found', 'Session not found')
    return row
  }

  // ---------------------------------------------------------------------------------------------

  private write(session: SessionRow, pending: PendingEvent[], idempotency?: Idempotency): WriteResult {
    const mainPath = sessionStreamPath(session.id)
    const presencePath = presenceStreamPath(session.id)
    const main = this.materializer.get(mainPath)
    const presence = this.materializer.get(presencePath)
    const timestamp = new Date(this.now()).toISOString()
    const batches = new Map<string, SessionChange[]>()
    const add = (path: string, change: SessionChange) => batches.set(path, [...(batches.get(path) ?? []), change])
    const seenInBatch = new Set<string>()
    let agentStatus: string | undefined
    for (const { event, operation } of pending) {
      const target = event.channel === 'presence' ? presence : main
      const identity = `${event.channel}:${keyOf(event)}`
      const exists = seenInBatch.has(identity) || hasEntity(target.state, event)
      seenInBatch.add(identity)
      const change = toChange(event, operation ?? (exists ? 'update' : 'insert'), timestamp)
      add(event.channel === 'presence' ? presencePath : mainPath, change)
      if ('agentId' in event.data) add(agentStreamPath(event.data.agentId), change)
      if (event.channel === 'agentState' && event.data.agentId === session.agentId) agentStatus = event.data.status
    }
    for (const path of batches.keys()) {
      if (path.startsWith(agentStreamPath('')) && !this.agentStreamWritable(path)) batches.delete(path)
    }
    const appends: StreamAppend[] = [...batches].map(([path, changes]) => ({
      path,
      options: { contentType: JSON_TYPE, body: Buffer.from(JSON.stringify(changes)), close: false },
    }))
    // The offset a client learns is the stream's tail after this write: the main stream's, or
    // the presence stream's for presence-only writes.
    const reported = batches.has(mainPath) ? mainPath : presencePath
    const offset = formatOffset(this.store.head(reported).tailPos + (batches.get(reported)?.length ?? 0))
    const now = this.now()
    this.store.appendAll(appends, () => {
      if (batches.has(mainPath)) {
        this.db.update(sessions).set({ lastActivityAt: now, ...(agentStatus ? { agentStatus } : {}) })
          .where(eq(sessions.id, session.id)).run()
      }
      if (idempotency) {
        this.db.insert(idempotencyKeys).values({ sessionId: session.id, key: idempotency.key, requestHash: idempotency.requestHash, offset, createdAt: now }).run()
      }
    })
    return { ok: true, offset }
  }

  /**
   * Agent streams are created on first use. One an operator closed (raw protocol, server token)
   * no longer receives copies, rather than failing every session write that names the agent.
   */
  private agentStreamWritable(path: string): boolean {
    try {
      return !this.store.head(path).closed
    }
    catch (error) {
      if (!(error instanceof StreamError) || error.code !== 'not_found') throw error
      this.store.create(path, { contentType: JSON_TYPE, closed: false, body: Buffer.alloc(0) })
      return true
    }
  }

  /** The first result of a write already made with this Idempotency-Key, if any. */
  private replay(sessionId: string, idempotency?: Idempotency): WriteResult | undefined {
    if (!idempotency) return undefined
    const previous = this.db.select().from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.sessionId, sessionId), eq(idempotencyKeys.key, idempotency.key))).get()
    if (!previous) return undefined
    if (previous.requestHash !== idempotency.requestHash)
      throw new SessionError('idempotency_conflict', 'This Idempotency-Key was already used for a different request')
    return { ok: true, offset: previous.offset }
  }

  private remove(sessionId: string): void {
    for (const path of [sessionStreamPath(sessionId), presenceStreamPath(sessionId)]) {
      this.materializer.drop(path)
      try {
        this.store.delete(path)
      }
      catch (error) {
        if (!(error instanceof StreamError)) throw error
      }
    }
    this.db.transaction((tx) => {
      tx.delete(idempotencyKeys).where(eq(idempotencyKeys.sessionId, sessionId)).run()
      tx.delete(sessions).where(eq(sessions.id, sessionId)).run()
    })
  }

  private summarize(row: SessionRow): SessionSummary {
    let participantsOnline = 0
    try {
      participantsOnline = selectParticipants(this.materializer.get(presenceStreamPath(row.id)).state.presence, this.now()).length
    }
    catch (error) {
      if (!(error instanceof StreamError)) throw error
    }
    return {
      id: row.id,
      title: row.title,
      status: row.status,
      agentId: row.agentId,
      projectId: row.projectId,
      taskId: row.taskId,
      createdAt: new Date(row.createdAt).toISOString(),
      lastActivityAt: new Date(row.lastActivityAt).toISOString(),
      participantsOnline,
      agentStatus: row.agentStatus,
      tailOffset: this.tailOffset(sessionStreamPath(row.id)),
      url: `/sessions/${row.id}`,
    }
  }

  private streamUrls(row: SessionRow) {
    return {
      streamUrl: `${STREAM_URL_PREFIX}${sessionStreamPath(row.id)}`,
      presenceStreamUrl: `${STREAM_URL_PREFIX}${presenceStreamPath(row.id)}`,
      agentStreamUrl: `${STREAM_URL_PREFIX}${agentStreamPath(row.agentId)}`,
    }
  }

  /** The stream's tail offset; null when a raw protocol DELETE removed it under the session. */
  private tailOffset(path: string): string | null {
    try {
      return formatOffset(this.store.head(path).tailPos)
    }
    catch (error) {
      if (error instanceof StreamError) return null
      throw error
    }
  }
}

function assertActive(session: SessionRow): void {
  if (session.status === 'ended') throw new SessionError('ended', 'Session has ended: it accepts no further events')
}

/** Fills what the server owns (id, sessionId, timestamps) and validates the complete event. */
function completeEvent(sessionId: string, input: SessionEventInput, timestamp: string): SessionEvent {
  const data: Record<string, unknown> = { ...input.data }
  if (data.sessionId !== undefined && data.sessionId !== sessionId)
    throw new SessionError('invalid', `data.sessionId ${JSON.stringify(data.sessionId)} does not match the session in the URL`)
  data.sessionId = sessionId
  if (input.channel === 'presence') {
    data.lastSeen ??= timestamp
    data.joinedAt ??= timestamp
  }
  else {
    data.timestamp ??= timestamp
    if (input.channel !== 'agentState') data.id ??= randomUUID()
  }
  return SessionEventSchema.parse({ channel: input.channel, data })
}

function encodeCursor(row: SessionRow): string {
  return Buffer.from(JSON.stringify([row.createdAt, row.id])).toString('base64url')
}

function decodeCursor(cursor: string): { createdAt: number, id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown]
    if (typeof createdAt === 'number' && typeof id === 'string') return { createdAt, id }
  }
  catch {
    // fall through
  }
  throw new SessionError('invalid', 'cursor is not a cursor this API returned')
}
