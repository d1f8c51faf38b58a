import { randomUUID } from 'node:crypto'
import { and, desc, eq, inArray, lt, or, sql } from 'drizzle-orm'
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import { MAX_AGENTS_PER_SESSION } from '#layers/durable-sessions/shared/sessions/api'
import type {
  CreateSessionBody, CreatedSession, PresenceBody, PresenceWriteResult, SessionDetails, SessionList, SessionLookup,
  SessionSnapshot, SessionSummary, UpdateSessionBody, WriteResult,
} from '#layers/durable-sessions/shared/sessions/api'
import { SessionEventSchema } from '#layers/durable-sessions/shared/sessions/channels'
import type { Presence, SessionEvent, SessionEventInput } from '#layers/durable-sessions/shared/sessions/channels'
import { agentStreamPath, presenceStreamPath, sessionPagePath, sessionStreamPath, streamUrlPath } from '#layers/durable-sessions/shared/sessions/paths'
import { nextPresence } from '#layers/durable-sessions/shared/sessions/presence'
import { hasEntity } from '#layers/durable-sessions/shared/sessions/reducer'
import { PRESENCE_WINDOW_MS, selectParticipants } from '#layers/durable-sessions/shared/sessions/selectors'
import { changeTypeOf, keyOf, toChange } from '#layers/durable-sessions/shared/sessions/wire'
import type { ChangeOperation, RecordOwner, SessionChange } from '#layers/durable-sessions/shared/sessions/wire'
import { idempotencyKeys, sessionAgents, sessions } from '../db/schema'
import type { SessionRow } from '../db/schema'
import { StreamError } from '../streams/errors'
import { formatOffset } from '../streams/offsets'
import type { StreamAppend, StreamStore } from '../streams/store'
import { ApprovalCheck, assertCanManage, assertCanWrite, assertOwns, resolveRole, writerOf } from './access'
import type { Credentials, Role } from './access'
import { SessionError } from './errors'
import type { StreamMaterializer } from './materializer'
import { PresenceKeys } from './presence-keys'
import { PresenceLimits } from './presence-limits'
import { hashSecret, newAgentId, newSecret, newSessionId } from './secrets'

const JSON_TYPE = 'application/json'
const AGENT_ID_CACHE_SIZE = 1000
/** A Idempotency-Key is honoured at least this long. */
export const IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000

export interface SessionServiceOptions {
  now?: () => number
  isServerToken: (token: string) => boolean
  /** Signs presence keys (see PresenceKeys); keys survive restarts as long as it does. */
  presenceSecret: Buffer
  /** Distinct presence users a session admits within any hour (NUXT_DURABLE_SESSIONS_PRESENCE_MAX_USERS_PER_HOUR). */
  presenceMaxUsersPerHour: number
}

export interface CreateOptions {
  /** Created with the server token: agent ids other sessions registered may be shared. */
  privileged?: boolean
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
  /** Unlisted sessions too (server token); otherwise public ones only. */
  all?: boolean
}

/** A stored write result, and when it was written. */
interface Replay {
  result: WriteResult
  createdAt: number
}

/** Who a collaborator's decision is attributed to; empty when they did not prove a presence identity. */
interface Author {
  actor?: string
  actorId?: string
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
  private readonly presenceKeys: PresenceKeys
  private readonly presenceLimits: PresenceLimits
  /** When the latest presence record began: each new one begins later, so no two share a key. */
  private lastJoinAt = 0
  /**
   * Registered agent ids of recently written sessions. Registrations never change after
   * create(), so a copy stays true for as long as its session exists; this spares the agent's
   * hot path a query per request.
   */
  private readonly agentIdCache = new Map<string, ReadonlySet<string>>()

  constructor(
    private readonly db: Db,
    private readonly store: StreamStore,
    private readonly materializer: StreamMaterializer,
    private readonly options: SessionServiceOptions,
  ) {
    this.now = options.now ?? Date.now
    this.presenceKeys = new PresenceKeys(options.presenceSecret)
    this.presenceLimits = new PresenceLimits(options.presenceMaxUsersPerHour)
  }

  /**
   * A new session, unlisted unless `public`, registering its agents: `agentId` and `agentIds`,
   * or a random id. An agent id another session registered is 409 unless `privileged`.
   */
  create(body: CreateSessionBody, origin: string, options: CreateOptions = {}): CreatedSession {
    const agentIds = [...new Set([...(body.agentId === undefined ? [] : [body.agentId]), ...(body.agentIds ?? [])])]
    if (agentIds.length === 0) agentIds.push(newAgentId())
    if (agentIds.length > MAX_AGENTS_PER_SESSION) throw new SessionError('invalid', `agentIds: a session registers at most ${MAX_AGENTS_PER_SESSION} agents`)
    // Checked before anything is created; create() runs without yielding, so no other create
    // can register the same id in between.
    if (!options.privileged) this.assertUnclaimed(agentIds)
    const id = newSessionId()
    const agentToken = newSecret()
    const collaboratorKey = newSecret()
    const now = this.now()
    const agentId = agentIds[0]!
    const json = { contentType: JSON_TYPE, closed: false, body: Buffer.alloc(0) }
    for (const agent of agentIds) this.store.create(agentStreamPath(agent), json)
    this.store.create(sessionStreamPath(id), json)
    this.store.create(presenceStreamPath(id), json)
    // In an explicit transaction: in autocommit mode, an INSERT … RETURNING read with .get()
    // commits only when better-sqlite3 resets the statement, and a commit that fails there (disk
    // full: SQLITE_FULL) is swallowed — the client got a 201 and tokens for a session that was
    // never stored (tests/reliability/faults.test.ts). COMMIT as a statement of its own throws.
    // If this fails, the two empty streams above are left without a session; retention removes them.
    const row = this.db.transaction((tx) => {
      const inserted = tx.insert(sessions).values({
        id,
        title: body.title ?? `Session ${new Date(now).toISOString().slice(0, 16).replace('T', ' ')}`,
        projectId: body.projectId ?? null,
        taskId: body.taskId ?? null,
        agentId,
        public: body.public ?? false,
        agentTokenHash: hashSecret(agentToken),
        collaboratorKeyHash: hashSecret(collaboratorKey),
        createdAt: now,
        lastActivityAt: now,
      }).returning().get()
      tx.insert(sessionAgents).values(agentIds.map(agent => ({ agentId: agent, sessionId: id }))).run()
      return inserted
    })
    const summary = this.summarize(row)
    return {
      ...summary,
      agentIds,
      ...this.streamUrls(row),
      shareUrl: `${origin}${summary.url}`,
      collaborateUrl: `${origin}${summary.url}?key=${collaboratorKey}`,
      agentToken,
      collaboratorKey,
    }
  }

  /** Public sessions (all of them with `all`), newest first, a page at a time. */
  list(query: ListQuery): SessionList {
    const conditions = []
    if (!query.all) conditions.push(eq(sessions.public, true))
    if (query.q) conditions.push(titleContains(query.q))
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

  /** The sessions of `ids` that exist (whoever has an id may see its session), newest first. */
  lookup(ids: string[], q?: string): SessionLookup {
    if (ids.length === 0) return { sessions: [] }
    const rows = this.db.select().from(sessions).where(and(inArray(sessions.id, ids), q ? titleContains(q) : undefined))
      .orderBy(desc(sessions.createdAt), desc(sessions.id)).all()
    return { sessions: rows.map(row => this.summarize(row)) }
  }

  /** Lists or unlists the session (agent or server token). */
  update(sessionId: string, body: UpdateSessionBody, role: Role): SessionSummary {
    assertCanManage(role, 'Listing or unlisting a session')
    this.requireSession(sessionId)
    const row = this.db.update(sessions).set({ public: body.public }).where(eq(sessions.id, sessionId)).returning().get()!
    return this.summarize(row)
  }

  details(sessionId: string): SessionDetails {
    const row = this.requireSession(sessionId)
    const presence = this.materializer.get(presenceStreamPath(sessionId))
    return {
      ...this.summarize(row),
      agentIds: [...this.agentIdsOf(sessionId)],
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

  /**
   * Validates, authorises and appends events; returns where they landed. A collaborator's
   * `presenceKey` (optional) attributes their approval decisions to their presence identity.
   */
  publish(sessionId: string, inputs: SessionEventInput[], role: Role, idempotency?: Idempotency, presenceKey?: string): WriteResult {
    const session = this.requireSession(sessionId)
    const now = this.now()
    // Only decisions carry an actor: other writes neither need nor check a presence key.
    const author = role === 'collaborator' && inputs.some(input => input.channel === 'workflow') ? this.authorOf(sessionId, presenceKey) : undefined
    const events = inputs.map(input => completeEvent(session.id, input, new Date(now).toISOString(), author))
    // Permission first: replaying a key is no way around the capability rules.
    const agentIds = this.agentIdsOf(sessionId)
    for (const event of events) assertCanWrite(role, event, agentIds)
    const replay = this.replay(sessionId, idempotency)
    if (replay) return replay.result
    assertActive(session)
    this.keepJoinTimes(sessionId, events)
    return this.write(session, events.map(event => ({ event })), now, writerOf(role), idempotency)
  }

  /**
   * Join, heartbeat, update or leave: one presence record per user, on the presence stream,
   * timed by the server's clock. A join answers a presence key bound to the record it made; the
   * other actions need it. Agents of the session publish their presence on /events instead.
   */
  updatePresence(sessionId: string, body: PresenceBody, idempotency?: Idempotency, presenceKey?: string): PresenceWriteResult {
    const session = this.requireSession(sessionId)
    if (this.agentIdsOf(sessionId).has(body.userId)) {
      throw new SessionError('forbidden', `userId ${JSON.stringify(body.userId)} is an agent of this session: its presence is published on /events with the agent token`)
    }
    const presencePath = presenceStreamPath(sessionId)
    const existing: Presence | undefined = this.materializer.get(presencePath).state.presence[body.userId]
    const now = this.now()
    if (body.action === 'join') return this.join(session, body, existing, now, idempotency, presenceKey)
    if (body.action === 'leave' && !existing) return { ok: true, offset: this.tailOffset(presencePath)! }
    if (presenceKey === undefined)
      throw new SessionError('unauthorized', `A presence ${body.action} needs the presence key its join returned (X-Presence-Key)`)
    if (!existing || !this.presenceKeys.matches(presenceKey, sessionId, existing))
      throw new SessionError('unauthorized', 'The presence key is not valid for this user in this session (a key ends when its user leaves): join again')
    const replay = this.replay(sessionId, idempotency)
    if (replay) return replay.result
    assertActive(session)
    // Dropped, not refused: the next cursor position supersedes this one anyway.
    if (body.action !== 'leave' && !this.presenceLimits.allowUpdate(sessionId, body.userId, now))
      return { ok: true, offset: this.tailOffset(presencePath)!, dropped: true }
    const event = SessionEventSchema.parse({ channel: 'presence', data: nextPresence(sessionId, body, existing, new Date(now).toISOString()) })
    return this.write(session, [{ event, operation: body.action === 'leave' ? 'delete' : undefined }], now, 'agent', idempotency)
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
    let trimmedStreams = this.trimPresence(now, presenceMinutes)
    for (const { id } of this.db.select({ id: sessions.id }).from(sessions).all()) {
      if (this.trim(sessionStreamPath(id), cutoff)) trimmedStreams++
    }
    // Every agent stream, including those of deleted sessions.
    for (const path of this.store.listPaths(agentStreamPath(''))) {
      if (this.trim(path, cutoff)) trimmedStreams++
    }
    this.removeOrphanStreams()
    this.db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, now - IDEMPOTENCY_RETENTION_MS)).run()
    return { deletedSessions: idle.length, trimmedStreams }
  }

  /**
   * Presence history older than `presenceMinutes` leaves every presence stream (run every
   * minute, so cursor traffic never piles up for long); answers how many streams were trimmed.
   */
  trimPresence(now: number, presenceMinutes: number): number {
    let trimmed = 0
    for (const { id } of this.db.select({ id: sessions.id }).from(sessions).all()) {
      if (this.trim(presenceStreamPath(id), now - presenceMinutes * 60 * 1000)) trimmed++
    }
    return trimmed
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

  /**
   * A join: a user not online (or back with the key of their current record) gets a record and
   * its key; an id someone is online with, without that key, is 409 — their key is never handed
   * out. A stale record (not seen for the presence window) may be claimed afresh, which ends
   * the old key. New users count against the session's hourly limit.
   */
  private join(session: SessionRow, body: PresenceBody, existing: Presence | undefined, now: number, idempotency?: Idempotency, presenceKey?: string): PresenceWriteResult {
    const rejoin = existing !== undefined && presenceKey !== undefined && this.presenceKeys.matches(presenceKey, session.id, existing)
    const replay = this.replay(session.id, idempotency)
    if (replay) {
      // The record's key again if that record began no later than the join being replayed: it
      // is then the one that join made or renewed, not one somebody claimed since.
      const owned = existing !== undefined && Date.parse(existing.joinedAt) <= replay.createdAt
      return owned ? { ...replay.result, presenceKey: this.presenceKeys.issue(session.id, existing) } : replay.result
    }
    assertActive(session)
    if (!rejoin && existing && now - Date.parse(existing.lastSeen) <= PRESENCE_WINDOW_MS) {
      throw new SessionError('conflict', `userId ${JSON.stringify(body.userId)} is present in this session already: join with its presence key (X-Presence-Key), or as another user`)
    }
    this.presenceLimits.admit(session.id, body.userId, now)
    // A new record's joinedAt is its key's generation: never one a gone record had (same ms).
    const at = rejoin ? now : (this.lastJoinAt = Math.max(now, this.lastJoinAt + 1))
    const data = nextPresence(session.id, body, rejoin ? existing : undefined, new Date(at).toISOString())
    const result = this.write(session, [{ event: SessionEventSchema.parse({ channel: 'presence', data }) }], at, 'agent', idempotency)
    return { ...result, presenceKey: this.presenceKeys.issue(session.id, data) }
  }

  /** The decision's author: the presence user the key proves (401 for a key that proves nobody). */
  private authorOf(sessionId: string, presenceKey: string | undefined): Author {
    if (presenceKey === undefined) return {}
    const userId = this.presenceKeys.userOf(presenceKey)
    const record = userId === undefined ? undefined : this.materializer.get(presenceStreamPath(sessionId)).state.presence[userId]
    if (!record || !this.presenceKeys.matches(presenceKey, sessionId, record))
      throw new SessionError('unauthorized', 'The presence key is not valid for this session (a key ends when its user leaves): join again')
    return { actor: record.displayName ?? record.userId, actorId: record.userId }
  }

  /** An agent's presence keeps when it joined; lastSeen is the server's now. */
  private keepJoinTimes(sessionId: string, events: SessionEvent[]): void {
    if (!events.some(event => event.channel === 'presence')) return
    const presence = this.materializer.get(presenceStreamPath(sessionId)).state.presence
    for (const event of events) {
      if (event.channel === 'presence') event.data.joinedAt = presence[event.data.userId]?.joinedAt ?? event.data.joinedAt
    }
  }

  /** 409 when another session registered one of these agent ids. */
  private assertUnclaimed(agentIds: string[]): void {
    const claimed = this.db.select({ agentId: sessionAgents.agentId }).from(sessionAgents).where(inArray(sessionAgents.agentId, agentIds)).limit(1).get()
    if (claimed) {
      throw new SessionError('conflict', `agentId ${JSON.stringify(claimed.agentId)} belongs to another session: choose another id `
        + '(only the server token may share one agent between sessions)')
    }
  }

  private agentIdsOf(sessionId: string): ReadonlySet<string> {
    let agentIds = this.agentIdCache.get(sessionId)
    if (!agentIds) {
      agentIds = new Set(this.db.select({ agentId: sessionAgents.agentId }).from(sessionAgents).where(eq(sessionAgents.sessionId, sessionId)).all().map(row => row.agentId))
      this.agentIdCache.set(sessionId, agentIds)
      if (this.agentIdCache.size > AGENT_ID_CACHE_SIZE) this.agentIdCache.delete(this.agentIdCache.keys().next().value!)
    }
    return agentIds
  }

  /**
   * Appends the events to the session's streams (and copies to agent streams) in one
   * transaction, checking first what needs the current state: a write to an existing record
   * must come from its owner, and approval decisions must answer a pending request once.
   * Presence records are guarded by presence keys and registered agent ids instead of owners.
   */
  private write(session: SessionRow, pending: PendingEvent[], now: number, writer: RecordOwner, idempotency?: Idempotency): WriteResult {
    const mainPath = sessionStreamPath(session.id)
    const presencePath = presenceStreamPath(session.id)
    const main = this.materializer.get(mainPath)
    const presence = this.materializer.get(presencePath)
    const timestamp = new Date(now).toISOString()
    const batches = new Map<string, SessionChange[]>()
    const add = (path: string, change: SessionChange) => batches.set(path, [...(batches.get(path) ?? []), change])
    const seenInBatch = new Set<string>()
    const approvals = new ApprovalCheck(main.state.workflow)
    let agentStatus: string | undefined
    for (const { event, operation } of pending) {
      const isPresence = event.channel === 'presence'
      const target = isPresence ? presence : main
      const key = keyOf(event)
      const identity = `${event.channel}:${key}`
      const existed = !seenInBatch.has(identity) && hasEntity(target.state, event)
      if (existed && !isPresence) assertOwns(writer, main.ownerOf(changeTypeOf(event.channel), key), event, key)
      approvals.check(event)
      const exists = existed || seenInBatch.has(identity)
      seenInBatch.add(identity)
      const change = toChange(event, operation ?? (exists ? 'update' : 'insert'), timestamp, isPresence ? 'agent' : writer)
      add(isPresence ? presencePath : mainPath, change)
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

  /** Trims a stream's head before `before`; whether anything went (a stream gone meanwhile is no error). */
  private trim(path: string, before: number): boolean {
    try {
      if (this.store.trimBefore(path, before) === 0) return false
    }
    catch (error) {
      if (error instanceof StreamError) return false
      throw error
    }
    this.materializer.drop(path)
    return true
  }

  /** The first result of a write already made with this Idempotency-Key, if any. */
  private replay(sessionId: string, idempotency?: Idempotency): Replay | undefined {
    if (!idempotency) return undefined
    const previous = this.db.select().from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.sessionId, sessionId), eq(idempotencyKeys.key, idempotency.key))).get()
    if (!previous) return undefined
    if (previous.requestHash !== idempotency.requestHash)
      throw new SessionError('idempotency_conflict', 'This Idempotency-Key was already used for a different request')
    return { result: { ok: true, offset: previous.offset }, createdAt: previous.createdAt }
  }

  private remove(sessionId: string): void {
    this.agentIdCache.delete(sessionId)
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
      tx.delete(sessionAgents).where(eq(sessionAgents.sessionId, sessionId)).run()
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
      public: row.public,
      tailOffset: this.tailOffset(sessionStreamPath(row.id)),
      url: sessionPagePath(row.id),
    }
  }

  private streamUrls(row: SessionRow) {
    return {
      streamUrl: streamUrlPath(sessionStreamPath(row.id)),
      presenceStreamUrl: streamUrlPath(presenceStreamPath(row.id)),
      agentStreamUrl: streamUrlPath(agentStreamPath(row.agentId)),
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

/**
 * Fills what the server owns — id, sessionId, timestamps, presence times from its clock, and a
 * collaborator's `actor` from their credential, whatever the body said — and validates the event.
 */
function completeEvent(sessionId: string, input: SessionEventInput, timestamp: string, author?: Author): SessionEvent {
  const data: Record<string, unknown> = { ...input.data }
  if (data.sessionId !== undefined && data.sessionId !== sessionId)
    throw new SessionError('invalid', `data.sessionId ${JSON.stringify(data.sessionId)} does not match the session in the URL`)
  data.sessionId = sessionId
  if (input.channel === 'presence') {
    data.lastSeen = timestamp
    data.joinedAt = timestamp
  }
  else {
    data.timestamp ??= timestamp
    if (input.channel !== 'agentState') data.id ??= randomUUID()
  }
  if (author && input.channel === 'workflow') {
    delete data.actor
    delete data.actorId
    Object.assign(data, author)
  }
  return SessionEventSchema.parse({ channel: input.channel, data })
}

/** A LIKE on the title that takes `%`, `_` and `\\` literally. */
function titleContains(q: string) {
  return sql`${sessions.title} LIKE ${`%${q.replace(/[\\%_]/g, '\\$&')}%`} ESCAPE '\\'`
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
