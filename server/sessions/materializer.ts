import { applyChange, createSessionState } from '#shared/sessions/reducer'
import type { SessionState } from '#shared/sessions/reducer'
import { parseJsonChunks } from '../streams/json'
import type { StreamChange, StreamStore } from '../streams/store'

/** A stream folded into session state, kept current by the store's notifier. */
export interface MaterializedStream {
  readonly state: SessionState
  /** Position up to which the state includes the stream. */
  readonly pos: number
}

interface Entry extends MaterializedStream {
  state: SessionState
  pos: number
  unsubscribe: () => void
}

const REPLAY_CHUNK_BYTES = 4 * 1024 * 1024

/**
 * Materialised session streams, least recently used evicted. Every commit to a cached stream —
 * through the session API or a raw protocol write — is folded in as it happens, so snapshots
 * and insert/update decisions never replay history.
 */
export class StreamMaterializer {
  private readonly entries = new Map<string, Entry>()

  constructor(private readonly store: StreamStore, private readonly capacity = 200) {}

  get(path: string): MaterializedStream {
    const cached = this.entries.get(path)
    if (cached) {
      this.entries.delete(path)
      this.entries.set(path, cached)
      return cached
    }
    return this.load(path)
  }

  /** Forgets a stream (deleted, or its head trimmed by retention): the next read replays it. */
  drop(path: string): void {
    const entry = this.entries.get(path)
    if (!entry) return
    entry.unsubscribe()
    this.entries.delete(path)
  }

  clear(): void {
    for (const path of [...this.entries.keys()]) this.drop(path)
  }

  private load(path: string): Entry {
    const state = createSessionState()
    let pos = 0
    let stream = this.store.head(path)
    for (let from: Parameters<StreamStore['read']>[1] = { kind: 'start' }; ;) {
      const result = this.store.read(path, from, { maxBytes: REPLAY_CHUNK_BYTES, sliceMessages: false })
      for (const message of parseJsonChunks(result.chunks)) applyChange(state, message)
      pos = result.nextPos
      stream = result.stream
      if (pos >= stream.tailPos) break
      from = { kind: 'position', position: pos }
    }
    // Subscribed in the same tick as the last read: no commit can fall between the two.
    const entry: Entry = { state, pos, unsubscribe: () => {} }
    entry.unsubscribe = this.store.subscribe(stream.id, change => this.onChange(path, entry, change))
    this.entries.set(path, entry)
    if (this.entries.size > this.capacity) this.drop(this.entries.keys().next().value!)
    return entry
  }

  private onChange(path: string, entry: Entry, change: StreamChange): void {
    if (change.removed || change.fromPos !== entry.pos) {
      this.drop(path)
      return
    }
    for (const message of parseJsonChunks(change.chunks)) applyChange(entry.state, message)
    entry.pos = change.toPos
  }
}
