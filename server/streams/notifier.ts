import type { StreamChange, StreamListener } from './store'

/**
 * In-process fan-out of committed changes to live readers (long-polls and SSE), keyed by
 * stream incarnation so a fork never wakes on its source and a re-created path never wakes
 * readers of the old stream. Nothing here polls the database: changes come from this
 * instance's commits and, across instances, from the backend's notifications.
 */
export class StreamNotifier {
  private readonly listeners = new Map<number, Set<StreamListener>>()

  subscribe(streamId: number, listener: StreamListener): () => void {
    let set = this.listeners.get(streamId)
    if (!set) {
      set = new Set()
      this.listeners.set(streamId, set)
    }
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0 && this.listeners.get(streamId) === set) this.listeners.delete(streamId)
    }
  }

  /** The streams someone listens to here. */
  streamIds(): number[] {
    return [...this.listeners.keys()]
  }

  publish(change: StreamChange): void {
    const set = this.listeners.get(change.streamId)
    if (!set) return
    for (const listener of [...set]) {
      try {
        listener(change)
      }
      catch (error) {
        console.error('[streams] live reader failed', error)
      }
    }
  }
}
