import { randomUUID } from 'node:crypto'
import { MAX_AGENTS_PER_SESSION } from '#layers/durable-sessions/shared/sessions/api'
import type {
  CreateSessionBody, CreatedSession, PresenceBody, PresenceWriteResult, SessionDetails, SessionList, SessionLookup,
  SessionSnapshot, SessionSummary, UpdateSessionBody, WriteResult,
} from '#layers/durable-sessions/shared/sessions/api'
import { SessionEventSchema } from '#layers/durable-sessions/shared/sessions/channels'
import type { Channel, Presence, SessionEvent, SessionEventInput } from '#layers/durable-sessions/shared/sessions/channels'
import { agentStreamPath, presenceStreamPath, sessionPagePath, sessionStreamPath, streamUrlPath } from '#layers/durable-sessions/shared/sessions/paths'
import { nextPresence } from '#layers/durable-sessions/shared/sessions/presence'
import { hasEntity } from '#layers/durable-sessions/shared/sessions/reducer'
import { PRESENCE_WINDOW_MS, selectParticipants } from '#layers/durable-sessions/shared/sessions/selectors'
import { changeTypeOf, keyOf, toChange } from '#layers/durable-sessions/shared/sessions/wire'
import { historyPage, windowState } from '#layers/durable-sessions/shared/sessions/window'
import type { HistoryList, HistoryPage } from '#layers/durable-sessions/shared/sessions/window'
import type { ChangeOperation, RecordOwner, SessionChange } from '#layers/durable-sessions/shared/sessions/wire'
import type { SessionRow } from '../db/schema'
import { StreamError } from '../streams/errors'
import { formatOffset } from '../streams/offsets'
import type { AppendResult, StreamAppend, StreamStore } from '../streams/store'
import { ApprovalCheck, assertActive, assertCanManage, assertCanWrite, assertOwns, resolveRole, writerOf } from './access'
import type { Credentials, Role } from './access'
import { SessionError } from './errors'
import type { LimitCounters } from './limits'
import type { StreamMaterializer } from './materializer'
import { PresenceKeys } from './presence-keys'
import { PresenceLimits } from './presence-limits'
import { AgentIdTaken, IdempotencyKeyTaken } from './repository'
import type { SessionRepository } from './repository'
import { cardLines } from './session-card'
import type { SessionCard } from './session-card'
import { hashSecret, newAgentId, newSecret, newSessionId } from './secrets'

const JSON_TYPE = 'application/json'
/** Conversation entries a link preview draws from (the card keeps what fits of their tail). */
const CARD_ENTRIES = 3
const AGENT_ID_CACHE_SIZE = 1000
/** A Idempotency-Key is honoured at least this long. */
export const IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000
/**
 * How often a write is decided again when the stream moved on between its decision and its
 * commit (another writer, on this instance or another), before the client is told to retry.
 */
const WRITE_ATTEMPTS = 20
/** Empty session streams without a session are removed once they are this old (see removeOrphanStreams). */
const ORPHAN_GRACE_MS = 60_000

export interface SessionServiceOptions {
  now?: () => number
  isServerToken: (token: string) => boolean
  /** Signs presence keys (see PresenceKeys); keys survive restarts as long as it does. */
  presenceSecret: Buffer
  /** Distinct presence users a session admits within any hour (NUXT_DURABLE_SESSIONS_PRESENCE_MAX_USERS_PER_HOUR). */
  presenceMaxUsersPerHour: number
  /** Where presence limits are counted (shared by every instance of a PostgreSQL deployment). */
  limits: LimitCounters
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

/** Who a collaborator's decision or prompt is attributed to; empty when they did not prove a presence identity. */
interface Author {
  actor?: string
  actorId?: string
}

/** An event to write, with the State Protocol operation when it is not simply insert-or-update. */
interface PendingEvent {
  event: SessionEvent
  operation?: ChangeOperation
}

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
   * create() and session ids are never reused, so a copy stays true on every instance for as
   * long as its session exists; this spares the agent's hot path a query per request.
   */
  private readonly agentIdCache = new Map<string, ReadonlySet<string>>()

  constructor(
    private readonly repository: SessionRepository,
    private readonly store: StreamStore,
    private readonly materializer: StreamMaterializer,
    private readonly options: SessionServiceOptions,
  ) {
    this.now = options.now ?? Date.now
    this.presenceKeys = new PresenceKeys(options.presenceSecret)
    this.presenceLimits = new PresenceLimits(options.limits, options.presenceMaxUsersPerHour)
  }

  /**
   * A new session, unlisted unless `public`, registering its agents: `agentId` and `agentIds`,
   * or a random id. An agent id another session registered is 409 unless `privileged`.
   */
  async create(body: CreateSessionBody, origin: string, options: CreateOptions = {}): Promise<CreatedSession> {
    const agentIds = [...new Set([...(body.agentId === undefined ? [] : [body.agentId]), ...(body.agentIds ?? [])])]
    if (agentIds.length === 0) agentIds.push(newAgentId())
    if (agentIds.length > MAX_AGENTS_PER_SESSION) throw new SessionError('invalid', `agentIds: a session registers at most ${MAX_AGENTS_PER_SESSION} agents`)
    // Checked before anything is created, and again where the session is stored (a concurrent
    // create may claim an id in between).
    if (!options.privileged) {
      const claimed = await this.repository.claimedAgentId(agentIds)
      if (claimed !== undefined) throw agentIdTaken(claimed)
    }
    const id = newSessionId()
    const agentToken = newSecret()
    const collaboratorKey = newSecret()
    const now = this.now()
    const agentId = agentIds[0]!
    const json = { contentType: JSON_TYPE, closed: false, body: Buffer.alloc(0) }
    for (const agent of agentIds) await this.store.create(agentStreamPath(agent), json)
    await this.store.create(sessionStreamPath(id), json)
    await this.store.create(presenceStreamPath(id), json)
    // If this fails, the two empty streams above are left without a session; retention removes them.
    let row: SessionRow
    try {
      row = await this.repository.insert({
        id,
        title: body.title ?? `Session ${new Date(now).toISOString().slice(0, 16).replace('T', ' ')}`,
        projectId: body.projectId ?? null,
        taskId: body.taskId ?? null,
        agentId,
        public: body.public ?? false,
        builtinAgent: body.agent ?? null,
        agentTokenHash: hashSecret(agentToken),
        collaboratorKeyHash: hashSecret(collaboratorKey),
        createdAt: now,
        lastActivityAt: now,
      }, agentIds, !options.privileged)
    }
    catch (error) {
      if (error instanceof AgentIdTaken) throw agentIdTaken(error.agentId)
      throw error
    }
    const summary = await this.summarize(row)
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
  async list(query: ListQuery): Promise<SessionList> {
    const after = query.cursor ? decodeCursor(query.cursor) : undefined
    const rows = await this.repository.list({ publicOnly: !query.all, q: query.q, after, limit: query.limit + 1 })
    const page = rows.slice(0, query.limit)
    const last = page.at(-1)
    return {
      sessions: await Promise.all(page.map(row => this.summarize(row))),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null,
    }
  }

  /** The sessions of `ids` that exist (whoever has an id may see its session), newest first. */
  async lookup(ids: string[], q?: string): Promise<SessionLookup> {
    if (ids.length === 0) return { sessions: [] }
    const rows = await this.repository.lookup(ids, q)
    return { sessions: await Promise.all(rows.map(row => this.summarize(row))) }
  }

  /** Lists or unlists the session (agent or server token). */
  async update(sessionId: string, body: UpdateSessionBody, role: Role): Promise<SessionSummary> {
    assertCanManage(role, 'Listing or unlisting a session')
    await this.requireSession(sessionId)
    const row = await this.repository.setPublic(sessionId, body.public)
    if (!row) throw new SessionError('not_found', 'Session not found')
    return this.summarize(row)
  }

  async details(sessionId: string): Promise<SessionDetails> {
    const row = await this.requireSession(sessionId)
    const presence = await this.materializer.get(presenceStreamPath(sessionId))
    const current = { presence: Object.values(presence.state.presence), presenceOffset: formatOffset(presence.pos) }
    return {
      ...(await this.summarize(row)),
      agentIds: [...(await this.agentIdsOf(sessionId))],
      ...this.streamUrls(row),
      ...current,
    }
  }

  /**
   * The materialised session and the offset it stands at, copied so later writes cannot leak in:
   * whole, or (`window`) as the page first shows it, with where each list's history continues.
   */
  async snapshot(sessionId: string, options: { window?: boolean } = {}): Promise<SessionSnapshot> {
    const row = await this.requireSession(sessionId)
    const session = await this.summarize(row)
    const main = await this.materializer.get(sessionStreamPath(sessionId))
    const presence = await this.materializer.get(presenceStreamPath(sessionId))
    const state = { ...main.state, presence: presence.state.presence }
    const shown = options.window ? windowState(state) : { state, history: undefined }
    return structuredClone({
      session,
      offset: formatOffset(main.pos),
      state: shown.state,
      presenceOffset: formatOffset(presence.pos),
      ...(shown.history && { history: shown.history }),
    })
  }

  /**
   * What the session's link preview shows, and the offset it stands at: the title, the agent's
   * status and progress, the newest prompts and messages — what the viewer link shows anyone.
   */
  async card(sessionId: string): Promise<{ card: SessionCard, offset: string }> {
    const session = await this.summarize(await this.requireSession(sessionId))
    const main = await this.materializer.get(sessionStreamPath(sessionId))
    const { state } = main
    const agent = state.agentState[session.agentId] ?? Object.values(state.agentState)[0]
    const status = agent ? `Agent ${agent.status}${agent.progress === undefined ? '' : ` · ${Math.round(agent.progress)}%`}` : 'Agent session'
    const texts: string[] = []
    for (let at = state.conversation.length - 1; at >= 0 && texts.length < CARD_ENTRIES; at--) {
      const entry = state.conversation[at]!
      const items: { id: string, text: string }[] = entry.kind === 'message' ? state.messages : state.prompts
      const text = items.findLast(item => item.id === entry.id)?.text
      if (text) texts.unshift(text)
    }
    return { card: { title: session.title, status, lines: cardLines(texts) }, offset: formatOffset(main.pos) }
  }

  /** Up to `limit` items of a list just before the item keyed `before`, from the materialised session. */
  async history(sessionId: string, list: HistoryList, before: string, limit: number): Promise<HistoryPage> {
    await this.requireSession(sessionId)
    const main = await this.materializer.get(sessionStreamPath(sessionId))
    const page = historyPage(main.state, list, before, limit)
    if (!page) throw new SessionError('conflict', `The session's ${list} has no item ${JSON.stringify(before)} any more: load the session again`)
    return structuredClone({ ...page, offset: formatOffset(main.pos) })
  }

  async role(sessionId: string, credentials: Credentials): Promise<Role> {
    return resolveRole(await this.requireSession(sessionId), credentials, this.options.isServerToken)
  }

  /**
   * Validates, authorises and appends events; returns where they landed. A collaborator's
   * `presenceKey` (optional) attributes their approval decisions to their presence identity.
   */
  async publish(sessionId: string, inputs: SessionEventInput[], role: Role, idempotency?: Idempotency, presenceKey?: string): Promise<WriteResult> {
    const session = await this.requireSession(sessionId)
    const now = this.now()
    // Only decisions and prompts carry an actor: other writes neither need nor check a presence key.
    const author = role === 'collaborator' && inputs.some(input => ATTRIBUTED.has(input.channel)) ? await this.authorOf(sessionId, presenceKey) : undefined
    const events = inputs.map(input => completeEvent(session.id, input, new Date(now).toISOString(), author))
    // Permission first: replaying a key is no way around the capability rules.
    const agentIds = await this.agentIdsOf(sessionId)
    for (const event of events) assertCanWrite(role, event, agentIds)
    return this.retrying(async () => {
      const replay = await this.replay(sessionId, idempotency)
      if (replay) return replay.result
      assertActive(session)
      return this.write(session, events.map(event => ({ event })), now, writerOf(role), idempotency, true)
    })
  }

  /**
   * Join, heartbeat, update or leave: one presence record per user, on the presence stream,
   * timed by the server's clock. A join answers a presence key bound to the record it made; the
   * other actions need it. Agents of the session publish their presence on /events instead.
   */
  async updatePresence(sessionId: string, body: PresenceBody, idempotency?: Idempotency, presenceKey?: string): Promise<PresenceWriteResult> {
    const session = await this.requireSession(sessionId)
    if ((await this.agentIdsOf(sessionId)).has(body.userId)) {
      throw new SessionError('forbidden', `userId ${JSON.stringify(body.userId)} is an agent of this session: its presence is published on /events with the agent token`)
    }
    const presencePath = presenceStreamPath(sessionId)
    return this.retrying(async () => {
      const presence = await this.materializer.get(presencePath)
      const existing: Presence | undefined = presence.state.presence[body.userId]
      const tail = formatOffset(presence.pos)
      const now = this.now()
      if (body.action === 'join') return this.join(session, body, existing, now, idempotency, presenceKey)
      if (body.action === 'leave' && !existing) return { ok: true, offset: tail }
      if (presenceKey === undefined)
        throw new SessionError('unauthorized', `A presence ${body.action} needs the presence key its join returned (X-Presence-Key)`)
      if (!existing || !this.presenceKeys.matches(presenceKey, sessionId, existing))
        throw new SessionError('unauthorized', 'The presence key is not valid for this user in this session (a key ends when its user leaves): join again')
      const replay = await this.replay(sessionId, idempotency)
      if (replay) return replay.result
      assertActive(session)
      // Dropped, not refused: the next cursor position supersedes this one anyway.
      if (body.action !== 'leave' && !(await this.presenceLimits.allowUpdate(sessionId, body.userId, now)))
        return { ok: true, offset: tail, dropped: true }
      const event = SessionEventSchema.parse({ channel: 'presence', data: nextPresence(sessionId, body, existing, new Date(now).toISOString()) })
      return this.write(session, [{ event, operation: body.action === 'leave' ? 'delete' : undefined }], now, 'agent', idempotency)
    })
  }

  /** Ends the session: both streams are closed, so every reader sees EOF. Idempotent. */
  async close(sessionId: string, role: Role): Promise<WriteResult> {
    assertCanManage(role, 'Closing a session')
    const session = await this.requireSession(sessionId)
    const mainPath = sessionStreamPath(sessionId)
    if (session.status === 'active') {
      const close = { body: Buffer.alloc(0), close: true }
      await this.store.appendAll([{ path: mainPath, options: close }, { path: presenceStreamPath(sessionId), options: close }], (_, tx) =>
        this.repository.markEnded(tx, sessionId, this.now()))
    }
    return { ok: true, offset: (await this.tailOffset(mainPath))! }
  }

  async delete(sessionId: string, role: Role): Promise<void> {
    assertCanManage(role, 'Deleting a session')
    await this.requireSession(sessionId)
    await this.remove(sessionId)
  }

  /**
   * Retention: events older than `retentionDays` leave the head of session and agent streams,
   * presence keeps `presenceMinutes`, idle sessions go entirely, and idempotency keys older
   * than a day are forgotten. One pass at a time across every instance.
   */
  applyRetention(now: number, retentionDays: number, presenceMinutes: number): Promise<{ deletedSessions: number, trimmedStreams: number }> {
    return this.repository.exclusively('retention', async () => {
      const cutoff = now - retentionDays * 24 * 60 * 60 * 1000
      const idle = await this.repository.idleSessionIds(cutoff)
      for (const id of idle) await this.remove(id)
      let trimmedStreams = await this.trimPresence(now, presenceMinutes)
      for (const id of await this.repository.sessionIds()) {
        if (await this.trim(sessionStreamPath(id), cutoff)) trimmedStreams++
      }
      // Every agent stream, including those of deleted sessions.
      for (const path of await this.store.listPaths(agentStreamPath(''))) {
        if (await this.trim(path, cutoff)) trimmedStreams++
      }
      await this.removeOrphanStreams(now)
      await this.repository.forgetIdempotencyKeys(now - IDEMPOTENCY_RETENTION_MS)
      return { deletedSessions: idle.length, trimmedStreams }
    })
  }

  /**
   * Presence history older than `presenceMinutes` leaves every presence stream (run every
   * minute, so cursor traffic never piles up for long); answers how many streams were trimmed.
   */
  async trimPresence(now: number, presenceMinutes: number): Promise<number> {
    let trimmed = 0
    for (const id of await this.repository.sessionIds()) {
      if (await this.trim(presenceStreamPath(id), now - presenceMinutes * 60 * 1000)) trimmed++
    }
    return trimmed
  }

  /**
   * Empty `sessions/<id>` streams whose session was never stored: create() makes the streams
   * first, so a failed insert (disk full) or a kill -9 in between leaves them behind. Nobody
   * ever learnt their id; only empty ones go, so nothing written is ever removed here. A
   * session being created right now (on any instance) has its streams but not yet its row: it
   * is spared by leaving streams younger than ORPHAN_GRACE_MS.
   */
  private async removeOrphanStreams(now: number): Promise<void> {
    const known = new Set(await this.repository.sessionIds())
    for (const path of await this.store.listPaths(sessionStreamPath(''))) {
      const id = path.slice(sessionStreamPath('').length).split('/')[0]!
      if (known.has(id)) continue
      try {
        const stream = await this.store.head(path)
        if (stream.tailPos === 0 && now - stream.createdAt >= ORPHAN_GRACE_MS) await this.store.delete(path)
      }
      catch (error) {
        if (!(error instanceof StreamError)) throw error
      }
    }
  }

  /** Active sessions the built-in AI agent serves that hold a prompt without a finished answer. */
  async sessionsAwaitingAi(): Promise<SessionRow[]> {
    const awaiting: SessionRow[] = []
    for (const row of await this.repository.activeWithBuiltinAgent('ai')) {
      const { state } = await this.materializer.get(sessionStreamPath(row.id))
      const finished = new Set(state.answers.filter(answer => answer.status !== 'running').map(answer => answer.id))
      if (state.prompts.some(prompt => !finished.has(prompt.id))) awaiting.push(row)
    }
    return awaiting
  }

  async requireSession(sessionId: string): Promise<SessionRow> {
    const row = await this.repository.find(sessionId)
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
  private async join(session: SessionRow, body: PresenceBody, existing: Presence | undefined, now: number, idempotency?: Idempotency, presenceKey?: string): Promise<PresenceWriteResult> {
    const rejoin = existing !== undefined && presenceKey !== undefined && this.presenceKeys.matches(presenceKey, session.id, existing)
    const replay = await this.replay(session.id, idempotency)
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
    await this.presenceLimits.admit(session.id, body.userId, now)
    // A new record's joinedAt is its key's generation: never one a gone record had (same ms),
    // here or — for the record it replaces — on another instance whose clock is ahead.
    const replaced = existing ? Date.parse(existing.joinedAt) + 1 : 0
    const at = rejoin ? now : (this.lastJoinAt = Math.max(now, this.lastJoinAt + 1, replaced))
    const data = nextPresence(session.id, body, rejoin ? existing : undefined, new Date(at).toISOString())
    const result = await this.write(session, [{ event: SessionEventSchema.parse({ channel: 'presence', data }) }], at, 'agent', idempotency)
    return { ...result, presenceKey: this.presenceKeys.issue(session.id, data) }
  }

  /** The decision's author: the presence user the key proves (401 for a key that proves nobody). */
  private async authorOf(sessionId: string, presenceKey: string | undefined): Promise<Author> {
    if (presenceKey === undefined) return {}
    const userId = this.presenceKeys.userOf(presenceKey)
    const record = userId === undefined ? undefined : (await this.materializer.get(presenceStreamPath(sessionId))).state.presence[userId]
    if (!record || !this.presenceKeys.matches(presenceKey, sessionId, record))
      throw new SessionError('unauthorized', 'The presence key is not valid for this session (a key ends when its user leaves): join again')
    return { actor: record.displayName ?? record.userId, actorId: record.userId }
  }

  private async agentIdsOf(sessionId: string): Promise<ReadonlySet<string>> {
    let agentIds = this.agentIdCache.get(sessionId)
    if (!agentIds) {
      agentIds = new Set(await this.repository.agentIdsOf(sessionId))
      this.agentIdCache.set(sessionId, agentIds)
      if (this.agentIdCache.size > AGENT_ID_CACHE_SIZE) this.agentIdCache.delete(this.agentIdCache.keys().next().value!)
    }
    return agentIds
  }

  /**
   * Runs `attempt` again while its write found the stream moved on since it decided (another
   * writer committed in between: its ownership, approval and insert-or-update decisions may no
   * longer hold), or while a concurrent request stored the same Idempotency-Key (the next
   * attempt replays its result).
   */
  private async retrying<R>(attempt: () => Promise<R>): Promise<R> {
    for (let n = 1; ; n++) {
      try {
        return await attempt()
      }
      catch (error) {
        const again = (error instanceof StreamError && error.code === 'tail_moved') || error instanceof IdempotencyKeyTaken
        if (!again) throw error
        if (n >= WRITE_ATTEMPTS)
          throw new StreamError('unavailable', 'This session is being written too busily to place the write: retry', { 'retry-after': '1' })
      }
    }
  }

  /**
   * Appends the events to the session's streams (and copies to agent streams) in one
   * transaction, checking first what needs the current state: a write to an existing record
   * must come from its owner, and approval decisions must answer a pending request once.
   * Presence records are guarded by presence keys and registered agent ids instead of owners.
   * The decisions are taken on the state at the streams' tails; the append commits only if the
   * tails are still there (`ifTailAt`), otherwise `retrying` decides again. With
   * `keepJoinTimes` (an agent's presence on /events), a record keeps when it joined.
   */
  private async write(session: SessionRow, pending: PendingEvent[], now: number, writer: RecordOwner, idempotency?: Idempotency, keepJoinTimes = false): Promise<WriteResult> {
    const mainPath = sessionStreamPath(session.id)
    const presencePath = presenceStreamPath(session.id)
    const presenceOnly = pending.every(({ event }) => event.channel === 'presence')
    const main = presenceOnly ? undefined : await this.materializer.get(mainPath)
    const presence = await this.materializer.get(presencePath)
    // From here to the positions taken below nothing yields: the state is the one at them.
    const tails = new Map([[presencePath, presence.pos]])
    if (main) tails.set(mainPath, main.pos)
    const timestamp = new Date(now).toISOString()
    const batches = new Map<string, SessionChange[]>()
    const add = (path: string, change: SessionChange) => batches.set(path, [...(batches.get(path) ?? []), change])
    const seenInBatch = new Set<string>()
    const approvals = main && new ApprovalCheck(main.state.workflow)
    let agentStatus: string | undefined
    for (const { event, operation } of pending) {
      if (event.channel === 'presence') {
        if (keepJoinTimes) event.data.joinedAt = presence.state.presence[event.data.userId]?.joinedAt ?? event.data.joinedAt
        const key = keyOf(event)
        const identity = `presence:${key}`
        const exists = seenInBatch.has(identity) || hasEntity(presence.state, event)
        seenInBatch.add(identity)
        const change = toChange(event, operation ?? (exists ? 'update' : 'insert'), timestamp, 'agent')
        add(presencePath, change)
        continue
      }
      const key = keyOf(event)
      const identity = `${event.channel}:${key}`
      const existed = !seenInBatch.has(identity) && hasEntity(main!.state, event)
      if (existed) assertOwns(writer, main!.ownerOf(changeTypeOf(event.channel), key), event, key)
      approvals!.check(event)
      const exists = existed || seenInBatch.has(identity)
      seenInBatch.add(identity)
      const change = toChange(event, operation ?? (exists ? 'update' : 'insert'), timestamp, writer)
      add(mainPath, change)
      if ('agentId' in event.data && event.data.agentId !== undefined) add(agentStreamPath(event.data.agentId), change)
      if (event.channel === 'agentState' && event.data.agentId === session.agentId) agentStatus = event.data.status
    }
    for (const path of batches.keys()) {
      if (path.startsWith(agentStreamPath('')) && !(await this.agentStreamWritable(path))) batches.delete(path)
    }
    const appends: StreamAppend[] = [...batches].map(([path, changes]) => ({
      path,
      options: { contentType: JSON_TYPE, body: Buffer.from(JSON.stringify(changes)), close: false, ifTailAt: tails.get(path) },
    }))
    // The offset a client learns is the stream's tail after this write: the main stream's, or
    // the presence stream's for presence-only writes.
    const reported = appends.findIndex(append => append.path === (batches.has(mainPath) ? mainPath : presencePath))
    let offset = ''
    await this.store.appendAll(appends, (results: AppendResult[], tx) => {
      offset = formatOffset(results[reported]!.stream.tailPos)
      return this.repository.recordWrite(tx, {
        sessionId: session.id,
        at: now,
        activity: batches.has(mainPath),
        agentStatus,
        idempotency: idempotency && { ...idempotency, offset },
      })
    })
    return { ok: true, offset }
  }

  /**
   * Agent streams are created on first use. One an operator closed (raw protocol, server token)
   * no longer receives copies, rather than failing every session write that names the agent.
   */
  private async agentStreamWritable(path: string): Promise<boolean> {
    try {
      return !(await this.store.head(path)).closed
    }
    catch (error) {
      if (!(error instanceof StreamError) || error.code !== 'not_found') throw error
      await this.store.create(path, { contentType: JSON_TYPE, closed: false, body: Buffer.alloc(0) })
      return true
    }
  }

  /** Trims a stream's head before `before`; whether anything went (a stream gone meanwhile is no error). */
  private async trim(path: string, before: number): Promise<boolean> {
    try {
      if (await this.store.trimBefore(path, before) === 0) return false
    }
    catch (error) {
      if (error instanceof StreamError) return false
      throw error
    }
    this.materializer.drop(path)
    return true
  }

  /** The first result of a write already made with this Idempotency-Key, if any. */
  private async replay(sessionId: string, idempotency?: Idempotency): Promise<Replay | undefined> {
    if (!idempotency) return undefined
    const previous = await this.repository.idempotencyRecord(sessionId, idempotency.key)
    if (!previous) return undefined
    if (previous.requestHash !== idempotency.requestHash)
      throw new SessionError('idempotency_conflict', 'This Idempotency-Key was already used for a different request')
    return { result: { ok: true, offset: previous.offset }, createdAt: previous.createdAt }
  }

  private async remove(sessionId: string): Promise<void> {
    this.agentIdCache.delete(sessionId)
    for (const path of [sessionStreamPath(sessionId), presenceStreamPath(sessionId)]) {
      this.materializer.drop(path)
      try {
        await this.store.delete(path)
      }
      catch (error) {
        if (!(error instanceof StreamError)) throw error
      }
    }
    await this.repository.delete(sessionId)
  }

  private async summarize(row: SessionRow): Promise<SessionSummary> {
    let participantsOnline = 0
    try {
      participantsOnline = selectParticipants((await this.materializer.get(presenceStreamPath(row.id))).state.presence, this.now()).length
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
      builtinAgent: row.builtinAgent,
      tailOffset: await this.tailOffset(sessionStreamPath(row.id)),
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
  private async tailOffset(path: string): Promise<string | null> {
    try {
      return formatOffset((await this.store.head(path)).tailPos)
    }
    catch (error) {
      if (error instanceof StreamError) return null
      throw error
    }
  }
}

/** Channels whose records name who wrote them: a collaborator's are attributed by the server. */
const ATTRIBUTED: ReadonlySet<Channel> = new Set<Channel>(['workflow', 'prompts'])

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
  if (author && ATTRIBUTED.has(input.channel)) {
    delete data.actor
    delete data.actorId
    Object.assign(data, author)
  }
  return SessionEventSchema.parse({ channel: input.channel, data })
}

/** 409: the agent id is another session's. */
function agentIdTaken(agentId: string): SessionError {
  return new SessionError('conflict', `agentId ${JSON.stringify(agentId)} belongs to another session: choose another id `
    + '(only the server token may share one agent between sessions)')
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
