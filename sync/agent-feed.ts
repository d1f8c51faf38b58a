import { reactive } from 'vue'
import type { AgentState } from '#layers/durable-sessions/shared/sessions/channels'
import { agentStreamPath, streamUrlPath } from '#layers/durable-sessions/shared/sessions/paths'
import { fromChange } from '#layers/durable-sessions/shared/sessions/wire'
import { createAgentFeedState, foldAgentEvent } from '../lib/agent-fold'
import type { AgentFeedState, AgentStep } from '../lib/agent-fold'
import type { BackoffSchedule } from '../lib/backoff'
import { LiveStream } from '../transport/live-stream'
import type { LiveStatus, ReconnectInfo } from '../transport/live-stream'
import { fitBatch, STREAM_START_OFFSET } from '../lib/offsets'
import { resolveBaseUrl } from '../transport/session-api'
import type { SessionClientOptions } from '../transport/session-api'
import { Listeners } from './listeners'
import { RefCountedMap } from './ref-counted'

export interface AgentEventMeta {
  sessionId: string
  /** Offset after the batch that carried the event. */
  offset: string
  /** False while history is replayed, true once the feed has caught up. */
  live: boolean
}

export interface AgentCallbacks {
  onState?: (state: AgentState, meta: AgentEventMeta) => void
  onStep?: (step: AgentStep, meta: AgentEventMeta) => void
  onReconnect?: (info: ReconnectInfo) => void
  onError?: (error: Error) => void
  onStatus?: (status: LiveStatus) => void
}

export interface AgentFeedOptions extends SessionClientOptions {
  /** Where to start reading: `-1` replays the agent's retained history, `now` only what comes next. Default `-1`. */
  offset?: string
  /** How many tool calls to keep. Default 50. */
  maxTools?: number
  /** Reconnect schedule. Default: 1 s, ×2, capped at 30 s, unlimited. */
  backoff?: Partial<BackoffSchedule>
}

/** The live stream `agents/<agentId>`: a copy of every event naming the agent, in any session. */
export class AgentFeed {
  readonly state: AgentFeedState
  readonly live: LiveStream
  private readonly listeners = new Listeners<AgentCallbacks>('agent')
  private caughtUp = false

  constructor(readonly agentId: string, private readonly options: AgentFeedOptions = {}) {
    // Typed as the plain state: Vue's deep unwrapping of the tool calls' JSON type exceeds TypeScript's limit (TS2589).
    this.state = reactive<object>(createAgentFeedState(options.offset)) as AgentFeedState
    this.live = new LiveStream({
      url: `${resolveBaseUrl(options)}${streamUrlPath(agentStreamPath(agentId))}`,
      fetch: options.fetch,
      backoff: options.backoff,
      offset: () => this.state.offset,
      onBatch: (batch) => {
        const fit = fitBatch(this.state.offset, batch.from, batch.to)
        if (fit !== 'next') return fit === 'duplicate'
        this.state.offset = batch.to
        if (batch.upToDate) this.caughtUp = true
        for (const item of batch.items) this.apply(item, batch.to)
        return true
      },
      // Trimmed history: start again from what is retained.
      onGone: async () => {
        Object.assign(this.state, createAgentFeedState(STREAM_START_OFFSET))
      },
      onReconnect: info => this.listeners.emit(listener => listener.onReconnect?.(info)),
      onError: error => this.listeners.emit(listener => listener.onError?.(error)),
      onStatus: status => this.listeners.emit(listener => listener.onStatus?.(status)),
    })
  }

  listen(callbacks: AgentCallbacks): () => void {
    return this.listeners.add(callbacks)
  }

  clearStreaming(): void {
    this.state.streaming = ''
  }

  private apply(item: unknown, offset: string): void {
    const decoded = fromChange(item)
    if (!decoded) return
    const { event } = decoded
    const steps = foldAgentEvent(this.state, event, this.options.maxTools)
    const meta: AgentEventMeta = { sessionId: event.data.sessionId, offset, live: this.caughtUp }
    if (event.channel === 'agentState') this.listeners.emit(listener => listener.onState?.(event.data, meta))
    for (const step of steps) this.listeners.emit(listener => listener.onStep?.(step, meta))
  }
}

/** One feed per agent per tab. Agent feeds hold no Pinia state, so the registry is the module's. */
const feeds = new RefCountedMap<AgentFeed>(feed => feed.live.stop())

export interface AgentHandle {
  feed: AgentFeed
  release: () => void
}

/** The tab's shared feed of an agent; the last release closes it. */
export function acquireAgent(agentId: string, options: AgentFeedOptions = {}): AgentHandle {
  const lease = feeds.acquire(`${resolveBaseUrl(options)}|${agentId}`, () => {
    const feed = new AgentFeed(agentId, options)
    feed.live.start()
    return feed
  })
  return { feed: lease.value, release: lease.release }
}

export function openAgentFeeds(): number {
  return feeds.size
}

/** For code outside components: the agent's state changes and steps, across sessions. */
export function subscribeToAgent(agentId: string, callbacks: AgentCallbacks, options: AgentFeedOptions = {}): () => void {
  const handle = acquireAgent(agentId, options)
  const stopListening = handle.feed.listen(callbacks)
  return () => {
    stopListening()
    handle.release()
  }
}
