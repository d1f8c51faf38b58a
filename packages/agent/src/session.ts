import type { CreatedSession, SessionDetails, SessionSnapshot, WriteResult } from '../../../shared/sessions/api'
import { SessionEventInputSchema } from '../../../shared/sessions/channels'
import type {
  AgentState, Channel, Json, SessionEvent, SessionEventInput, TerminalEntry, WorkflowEvent, WorkflowType,
} from '../../../shared/sessions/channels'
import { SESSIONS_API_PATH, sessionApiPath, sessionPagePath } from '../../../shared/sessions/paths'
import type { ChangeOperation } from '../../../shared/sessions/wire'
import type { BackoffSchedule } from '../../../lib/backoff'
import { ApprovalTimeoutError, ConflictError, SessionClosedError, ValidationError } from './errors'
import { callApi, formatPath, normalizeServer } from './http'
import type { Transport } from './http'
import { randomId } from './random'
import { SessionFollower } from './follower'
import { EventWriter } from './writer'
import type { WriterOptions } from './writer'

/** The most text one chunk or terminal event may carry; longer text is split into several. */
export const MAX_EVENT_TEXT = 100_000

export interface ConnectionOptions extends WriterOptions {
  /** Origin of the Durable Sessions server, e.g. `http://localhost:3000`. */
  server: string
  /** A fetch implementation (a proxy, an in-process server). Default: globalThis.fetch. */
  fetch?: typeof globalThis.fetch
  /** A permanent failure of queued writes or of following the session (bad token, session deleted). */
  onError?: (error: Error) => void
}

export interface CreateSessionOptions extends ConnectionOptions {
  title?: string
  /** The agent's id (letters, digits, `_ . : -`). Default: one the server makes up. */
  agentId?: string
  /** Further agent ids this session accepts events from (servers that bind agent ids to sessions). */
  agentIds?: string[]
  /** List the session publicly (servers where sessions are unlisted by default). */
  public?: boolean
  projectId?: string
  taskId?: string
  /** The server token, for servers that require it to create sessions. */
  token?: string
}

export interface AttachSessionOptions extends ConnectionOptions {
  sessionId: string
  agentToken: string
  /** Which of the session's agents this is. Default: the session's agent, asked from the server before the first write. */
  agentId?: string
}

export interface StateUpdate {
  status?: AgentState['status']
  /** Percent complete, 0–100. */
  progress?: number
  message?: string
  error?: string
  turn?: number
  currentTool?: string
  taskId?: string
}

export interface TerminalOptions {
  /** Default `output`. */
  type?: TerminalEntry['type']
  /** Default `agent`; `user` for input typed at the agent's own keyboard. */
  source?: TerminalEntry['source']
}

export interface ToolCallHandle {
  readonly id: string
  /** Completes the call with its output; the duration since `tool()` is measured. */
  result: (output?: Json) => Promise<void>
  /** Fails the call. */
  error: (error: unknown) => Promise<void>
}

export interface TerminalInput {
  id: string
  data: string
  timestamp: string
}

export interface ApprovalRequestOptions {
  title: string
  description?: string
  /** More fields for the request's payload (shown by custom viewers, kept in the stream). */
  payload?: Record<string, Json>
  /** Give up after this many ms with an ApprovalTimeoutError. Default: wait for ever. */
  timeoutMs?: number
  /**
   * Decide by itself when `timeoutMs` passes, instead of rejecting. A collaborator who decides at
   * the same moment wins (the server accepts one decision per request): theirs is returned.
   */
  onTimeout?: { approved: boolean, reason?: string, actor?: string }
  signal?: AbortSignal
}

export interface ApprovalDecision {
  approved: boolean
  /** Who decided, as the viewer named them. */
  actor?: string
  reason?: string
  requestId: string
}

/** What `publish(channel, data)` takes: the session API's input, with `agentId` filled in when left out. */
export type PublishData<C extends Channel> = Omit<Extract<SessionEventInput, { channel: C }>['data'], 'agentId'> & { agentId?: string }

export interface ReadOptions {
  /** Where to start: an offset the stream gave, or `-1` (the default) for its start. */
  from?: string
  /** Every change message of the session stream, in order, each once. */
  onMessage: (message: unknown) => void
  /** After each batch: everything before this offset has reached onMessage. */
  onOffset?: (offset: string) => void
  /** The session ended: nothing more will come. */
  onClosed?: () => void
  /** Reading cannot go on (the session was deleted). */
  onError?: (error: Error) => void
  /** Default `long-poll`; `sse` to see every token as it lands. */
  live?: 'long-poll' | 'sse'
}

export interface CloseOptions {
  /** Publish this final agent status before closing (`completed`, `error`, …). */
  status?: AgentState['status']
  message?: string
  error?: string
}

/** Creates a session and returns a handle that publishes to it as its agent. */
export async function createSession(options: CreateSessionOptions): Promise<AgentSession> {
  const transport = transportOf(options)
  const body = Object.fromEntries(Object.entries({
    title: options.title,
    agentId: options.agentId,
    agentIds: options.agentIds,
    public: options.public,
    projectId: options.projectId,
    taskId: options.taskId,
  }).filter(([, value]) => value !== undefined))
  const created = await callApi<CreatedSession>(transport, {
    method: 'POST',
    path: SESSIONS_API_PATH,
    body,
    bearer: options.token,
    action: 'Creating a session',
  })
  return new AgentSession(transport, options, {
    id: created.id,
    agentToken: created.agentToken,
    agentId: options.agentId ?? created.agentId,
    collaboratorKey: created.collaboratorKey,
    // A new stream: following from its start misses nothing.
    followFrom: '-1',
  })
}

/**
 * A handle on an existing session, for the holder of its agent token. Nothing is sent until the
 * first write, so it works while the server is unreachable; a wrong id or token is reported by
 * `flush()` (and `onError`).
 */
export function attachSession(options: AttachSessionOptions): AgentSession {
  if (!options.sessionId) throw new ValidationError('attachSession needs sessionId', [{ path: 'sessionId', message: 'required' }])
  if (!options.agentToken) throw new ValidationError('attachSession needs agentToken (returned once, when the session was created)', [{ path: 'agentToken', message: 'required' }])
  return new AgentSession(transportOf(options), options, { id: options.sessionId, agentToken: options.agentToken, agentId: options.agentId })
}

interface Identity {
  id: string
  agentToken: string
  agentId?: string
  collaboratorKey?: string
  followFrom?: string
}

interface PendingApproval {
  resolve: (decision: ApprovalDecision) => void
  reject: (error: Error) => void
}

const AGENT_CHANNELS = new Set<Channel>(['chunks', 'toolCalls', 'agentState', 'answers'])
const FOLLOW_RETRY: BackoffSchedule = { initialDelay: 250, maxDelay: 5000, multiplier: 2 }

/**
 * One agent's side of a session: publishing (queued, batched, exactly once, in order),
 * steering (collaborators' input and approval decisions) and closing.
 */
export class AgentSession {
  readonly id: string
  readonly agentToken: string
  /** The viewer link: anyone with it watches live. */
  readonly url: string
  /** The link that also lets people type and decide; only known to the session's creator. */
  readonly collaborateUrl: string | undefined
  readonly server: string

  private agent?: string
  private readonly writer: EventWriter
  private follower?: SessionFollower
  private readonly followFrom?: string
  private lastState?: StateUpdate
  private readonly inputHandlers = new Set<(input: TerminalInput) => void>()
  private readonly ownInputIds = new Set<string>()
  private readonly approvals = new Map<string, PendingApproval>()
  private closing?: Promise<void>
  private ended?: Error

  constructor(private readonly transport: Transport, private readonly options: ConnectionOptions, identity: Identity) {
    this.id = identity.id
    this.agentToken = identity.agentToken
    this.agent = identity.agentId
    this.server = transport.server
    this.url = `${transport.server}${sessionPagePath(identity.id)}`
    this.collaborateUrl = identity.collaboratorKey ? `${this.url}?key=${encodeURIComponent(identity.collaboratorKey)}` : undefined
    this.followFrom = identity.followFrom
    this.writer = new EventWriter({
      transport,
      sessionId: this.id,
      bearer: this.agentToken,
      prepare: () => this.resolveAgentId(),
      complete: event => this.withAgentId(event),
      onFailure: error => this.fail(error),
    }, options)
  }

  /** The agent id events are published under; undefined until learnt from the server (attachSession without agentId). */
  get agentId(): string | undefined {
    return this.agent
  }

  /** What is not acknowledged yet: a caller can shed load before `maxQueueBytes` makes it wait. */
  get pending(): { events: number, bytes: number } {
    return this.writer.pending
  }

  get maxQueueBytes(): number {
    return this.writer.maxQueueBytes
  }

  /** The session stream's offset after the last acknowledged write. */
  get offset(): string | undefined {
    return this.writer.offset
  }

  /** Streams text to the messages panel. Resolves once queued (at once, unless the queue is full). */
  text(delta: string, options: { turn?: number } = {}): Promise<void> {
    const turn = options.turn ?? this.lastState?.turn ?? 0
    return this.enqueueAll(splitText(delta, MAX_EVENT_TEXT).map(text => ({ channel: 'chunks', data: { text, turn, timestamp: now() } } as SessionEventInput)))
  }

  /** Starts a tool call; the handle completes or fails it under the same id. */
  tool(name: string, input: Json = null, options: { id?: string } = {}): ToolCallHandle {
    const id = options.id ?? randomId()
    const startedAt = Date.now()
    const record = (status: 'running' | 'complete' | 'error', output?: Json): Promise<void> => this.enqueue({
      channel: 'toolCalls',
      data: {
        id,
        tool: name,
        input,
        status,
        ...(output === undefined ? {} : { output }),
        ...(status === 'running' ? {} : { duration: Date.now() - startedAt }),
        timestamp: now(),
      },
    } as SessionEventInput)
    void record('running').catch(() => {})
    return {
      id,
      result: output => record('complete', output),
      error: error => record('error', { error: error instanceof Error ? error.message : String(error) }),
    }
  }

  /**
   * Updates the agent's state. Fields not given keep their last value; a field given as
   * `undefined` is cleared.
   */
  state(update: StateUpdate): Promise<void> {
    const merged: Record<string, unknown> = { status: 'running', ...this.lastState, ...update }
    for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key]
    const event = { channel: 'agentState', data: { ...merged, timestamp: now() } } as SessionEventInput
    const queued = this.enqueue(event)
    this.lastState = merged as StateUpdate
    return queued
  }

  /** Terminal output (ANSI kept as is). Text over 100,000 characters becomes several entries. */
  terminal(data: string, options: TerminalOptions = {}): Promise<void> {
    const type = options.type ?? 'output'
    const source = options.source ?? 'agent'
    return this.enqueueAll(splitText(data, MAX_EVENT_TEXT).map((text) => {
      const id = randomId()
      if (type === 'input') this.ownInputIds.add(id)
      return { channel: 'terminal', data: { id, type, source, data: text, timestamp: now() } } as SessionEventInput
    }))
  }

  /** A workflow event: worktrees, or approval events of your own. */
  workflow(type: WorkflowType, payload: Record<string, Json> = {}, options: { id?: string, actor?: string, taskId?: string } = {}): Promise<void> {
    return this.enqueue({
      channel: 'workflow',
      data: { id: options.id ?? randomId(), type, payload, actor: options.actor ?? this.agent, taskId: options.taskId, timestamp: now() },
    } as SessionEventInput)
  }

  /** Any channel, as the session API takes it (`agentId` is filled in on agent channels). */
  publish<C extends Channel>(channel: C, data: PublishData<C>): Promise<void> {
    return this.enqueue({ channel, data } as unknown as SessionEventInput)
  }

  /** The session materialised by the server's reducer, and the offset it stands at. */
  snapshot(): Promise<SessionSnapshot> {
    return callApi<SessionSnapshot>(this.transport, {
      method: 'GET',
      path: sessionApiPath(this.id, 'snapshot'),
      sessionId: this.id,
      action: 'Reading the session',
    })
  }

  /**
   * Reads the session stream from an offset of its own, like any reader: across dropped
   * connections and server restarts every change message arrives once. Returns a stop function.
   */
  read(options: ReadOptions): () => void {
    const follower = new SessionFollower({
      transport: this.transport,
      sessionId: this.id,
      from: options.from ?? '-1',
      retry: FOLLOW_RETRY,
      live: options.live,
      onMessage: options.onMessage,
      onOffset: options.onOffset,
      onClosed: () => options.onClosed?.(),
      onFailure: error => options.onError?.(error),
    })
    return () => follower.stop()
  }

  /** Resolves when everything published so far is acknowledged by the server. */
  flush(): Promise<void> {
    return this.writer.flush()
  }

  /**
   * Collaborators' terminal input (`source: 'user'`, `type: 'input'`), in order, each once, as
   * it arrives from now on; input this handle published itself is left out. Returns an unsubscribe.
   */
  onInput(handler: (input: TerminalInput) => void): () => void {
    this.inputHandlers.add(handler)
    this.follow()
    return () => this.inputHandlers.delete(handler)
  }

  /**
   * Asks the collaborators for approval (`approval:requested`) and resolves with the first
   * decision on it. Rejects with ApprovalTimeoutError after `timeoutMs`, with the signal's reason
   * when aborted, and with SessionClosedError when the session ends first.
   */
  async requestApproval(options: ApprovalRequestOptions): Promise<ApprovalDecision> {
    options.signal?.throwIfAborted()
    if (this.ended) throw this.ended
    const requestId = randomId()
    const payload: Record<string, Json> = { ...options.payload, title: options.title }
    if (options.description !== undefined) payload.description = options.description
    const follower = this.follow()
    // The decision can only come after the request is visible; following must have begun by then.
    // (Once it has, the request is queued before this call returns: in call order with the rest.)
    if (!follower.isReady) await follower.ready()
    const decided = new Promise<ApprovalDecision>((resolve, reject) => {
      const cleanups: (() => void)[] = []
      const settle = () => {
        this.approvals.delete(requestId)
        for (const cleanup of cleanups) cleanup()
      }
      this.approvals.set(requestId, {
        resolve: (decision) => {
          settle()
          resolve(decision)
        },
        reject: (error) => {
          settle()
          reject(error)
        },
      })
      if (options.timeoutMs !== undefined) {
        const onTimeout = options.onTimeout
        const timer = setTimeout(() => onTimeout
          ? this.decideUnlessDecided(requestId, onTimeout).catch(error => this.approvals.get(requestId)?.reject(error))
          : this.approvals.get(requestId)?.reject(new ApprovalTimeoutError(
              `No decision on "${options.title}" within ${options.timeoutMs} ms; the request stays open in the viewer`, requestId, this.id)), options.timeoutMs)
        cleanups.push(() => clearTimeout(timer))
      }
      if (options.signal) {
        const signal = options.signal
        const onAbort = () => this.approvals.get(requestId)?.reject(signal.reason)
        signal.addEventListener('abort', onAbort, { once: true })
        cleanups.push(() => signal.removeEventListener('abort', onAbort))
      }
    })
    await this.workflow('approval:requested', payload, { id: requestId })
    return decided
  }

  /**
   * Posts a decision outside the write queue, where a refusal would stop every later write: a
   * 409 means a collaborator decided first, and their decision reaches the follower like ours would.
   */
  private async decideUnlessDecided(requestId: string, decision: NonNullable<ApprovalRequestOptions['onTimeout']>): Promise<void> {
    await this.flush()
    const payload: Record<string, Json> = { requestId }
    if (decision.reason !== undefined) payload.reason = decision.reason
    const data: Record<string, Json> = { type: decision.approved ? 'approval:approved' : 'approval:rejected', payload, timestamp: now() }
    if (decision.actor !== undefined) data.actor = decision.actor
    try {
      await callApi(this.transport, {
        method: 'POST',
        path: sessionApiPath(this.id, 'events'),
        body: { channel: 'workflow', data },
        bearer: this.agentToken,
        idempotencyKey: randomId(),
        sessionId: this.id,
        action: 'Deciding an approval on timeout',
      })
    }
    catch (error) {
      if (!(error instanceof ConflictError) || error.code === 'ended') throw error
    }
  }

  /**
   * Ends the session: publishes the final status if given, waits until everything is
   * acknowledged, then closes the session's streams (every reader sees EOF). Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.closeOnce(options)
    return this.closing
  }

  /**
   * Lets go of the session without closing it: following stops, pending approvals reject, and
   * nothing more is sent — including anything not yet acknowledged (call flush() first to keep it).
   */
  detach(): void {
    const reason = new SessionClosedError(`This handle on session ${this.id} was detached`, 0, 'detached', this.id)
    this.end(reason)
    this.writer.abandon(reason)
  }

  private async closeOnce(options: CloseOptions): Promise<void> {
    if (options.status) await this.state({ status: options.status, message: options.message, error: options.error })
    await this.writer.flush()
    await callApi<WriteResult>(this.transport, {
      method: 'POST',
      path: sessionApiPath(this.id, 'close'),
      bearer: this.agentToken,
      sessionId: this.id,
      action: 'Closing the session',
    })
    this.end(new SessionClosedError(`Session ${this.id} was closed by this agent`, 0, 'ended', this.id))
  }

  private follow(): SessionFollower {
    this.follower ??= new SessionFollower({
      transport: this.transport,
      sessionId: this.id,
      from: this.followFrom,
      retry: FOLLOW_RETRY,
      onEvent: (event, operation) => this.onStreamEvent(event, operation),
      onClosed: () => this.end(new SessionClosedError(`Session ${this.id} has ended`, 0, 'ended', this.id)),
      onFailure: error => this.fail(error),
    })
    return this.follower
  }

  private onStreamEvent(event: SessionEvent, operation: ChangeOperation): void {
    if (event.channel === 'terminal' && operation === 'insert' && event.data.type === 'input' && event.data.source === 'user') {
      if (this.ownInputIds.delete(event.data.id)) return
      const input: TerminalInput = { id: event.data.id, data: event.data.data, timestamp: event.data.timestamp }
      for (const handler of this.inputHandlers) this.guard(() => handler(input))
    }
    if (event.channel === 'workflow' && (event.data.type === 'approval:approved' || event.data.type === 'approval:rejected')) {
      const decision = toDecision(event.data)
      if (decision) this.approvals.get(decision.requestId)?.resolve(decision)
    }
  }

  private guard(run: () => void): void {
    try {
      run()
    }
    catch (error) {
      this.report(error instanceof Error ? error : new Error(String(error)))
    }
  }

  private enqueueAll(events: SessionEventInput[]): Promise<void> {
    return Promise.all(events.map(event => this.enqueue(event))).then(() => {})
  }

  /** Validates now (so a mistake points at its call), then queues; the promise is pre-handled. */
  private enqueue(event: SessionEventInput): Promise<void> {
    if (this.ended) return handled(Promise.reject(this.ended))
    const data = event.data as Record<string, unknown>
    const needsAgent = AGENT_CHANNELS.has(event.channel) && data.agentId === undefined
    const parsed = SessionEventInputSchema.safeParse(needsAgent ? { ...event, data: { ...data, agentId: this.agent ?? 'agent' } } : event)
    if (!parsed.success) {
      const issues = parsed.error.issues.map(issue => ({ path: formatPath(issue.path), message: issue.message }))
      throw new ValidationError(`Invalid ${event.channel} event: ${issues.map(issue => `${issue.path}: ${issue.message}`).join('; ')}`, issues, 0, 'invalid', this.id)
    }
    return handled(this.writer.enqueue(event))
  }

  private withAgentId(event: SessionEventInput): SessionEventInput {
    const data = event.data as Record<string, unknown>
    if (!AGENT_CHANNELS.has(event.channel) || data.agentId !== undefined) return event
    return { ...event, data: { ...data, agentId: this.agent } } as SessionEventInput
  }

  private async resolveAgentId(): Promise<void> {
    if (this.agent) return
    const details = await callApi<SessionDetails>(this.transport, {
      method: 'GET',
      path: sessionApiPath(this.id),
      sessionId: this.id,
      action: 'Looking up the session',
    })
    this.agent = details.agentId
  }

  private fail(error: Error): void {
    this.report(error)
    this.end(error)
  }

  private report(error: Error): void {
    this.options.onError?.(error)
  }

  /** Nothing more will be published or followed: waiters learn why. */
  private end(reason: Error): void {
    if (this.ended) return
    this.ended = reason
    this.follower?.stop()
    for (const pending of [...this.approvals.values()]) pending.reject(reason)
    this.inputHandlers.clear()
  }
}

function toDecision(event: WorkflowEvent): ApprovalDecision | undefined {
  const requestId = event.payload.requestId
  if (typeof requestId !== 'string') return undefined
  const reason = event.payload.reason
  return {
    approved: event.type === 'approval:approved',
    requestId,
    ...(event.actor ? { actor: event.actor } : {}),
    ...(typeof reason === 'string' && reason ? { reason } : {}),
  }
}

function transportOf(options: ConnectionOptions): Transport {
  const fetchImpl = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init))
  return { server: normalizeServer(options.server), fetch: fetchImpl as typeof globalThis.fetch }
}

/** Splits text into pieces of at most `max` UTF-16 units, never between the halves of a surrogate pair. */
export function splitText(text: string, max: number): string[] {
  if (text.length <= max) return [text]
  const pieces: string[] = []
  for (let start = 0; start < text.length;) {
    let end = Math.min(start + max, text.length)
    const last = text.charCodeAt(end - 1)
    if (end < text.length && last >= 0xD800 && last <= 0xDBFF) end--
    pieces.push(text.slice(start, end))
    start = end
  }
  return pieces
}

/** Marks a promise as handled, so a caller who does not await it causes no unhandled rejection. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {})
  return promise
}

const now = () => new Date().toISOString()
