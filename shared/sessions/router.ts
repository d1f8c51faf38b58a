import type { Channel, ChannelData, SessionEvent } from './channels'

export type ChannelHandler<C extends Channel> = (data: ChannelData[C], event: Extract<SessionEvent, { channel: C }>) => void

export interface SessionEventRouterOptions {
  /** Called when a handler throws; the other handlers still run. Default: console.error. */
  onError?: (error: unknown, event: SessionEvent) => void
}

/** Handlers are stored type-erased; `on` is what ties a handler to its channel's data type. */
type StoredHandler = (data: ChannelData[Channel], event: SessionEvent) => void

/** Dispatches session events to any number of handlers per channel, added and removed at any time. */
export class SessionEventRouter {
  private readonly handlers = new Map<Channel, Set<StoredHandler>>()

  constructor(private readonly options: SessionEventRouterOptions = {}) {}

  on<C extends Channel>(channel: C, handler: ChannelHandler<C>): () => void {
    let set = this.handlers.get(channel)
    if (!set) {
      set = new Set()
      this.handlers.set(channel, set)
    }
    const stored = handler as unknown as StoredHandler
    set.add(stored)
    return () => {
      set.delete(stored)
    }
  }

  route(event: SessionEvent): void {
    const set = this.handlers.get(event.channel)
    if (!set) return
    // A snapshot of the handlers: one that unsubscribes itself does not skip its neighbour.
    for (const handler of [...set]) {
      try {
        handler(event.data, event)
      }
      catch (error) {
        if (this.options.onError) this.options.onError(error, event)
        else console.error(`[sessions] ${event.channel} handler failed`, error)
      }
    }
  }

  clear(): void {
    this.handlers.clear()
  }

  handlerCount(channel?: Channel): number {
    if (channel) return this.handlers.get(channel)?.size ?? 0
    let count = 0
    for (const set of this.handlers.values()) count += set.size
    return count
  }
}
