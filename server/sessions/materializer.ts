import { applyChange, createSessionState } from '#layers/durable-sessions/shared/sessions/reducer'
import type { SessionState } from '#layers/durable-sessions/shared/sessions/reducer'
import { ownerOf } from '#layers/durable-sessions/shared/sessions/wire'
import type { RecordOwner } from '#layers/durable-sessions/shared/sessions/wire'
import { parseJsonChunks } from '../streams/json'
import type { StreamChange, StreamStore } from '../streams/store'

/** A stream folded into session state, kept current by the store's notifier. */
export interface MaterializedStream {
  readonly state: SessionState
  /** Position up to which the state includes the stream. */
  readonly pos: number
  /** The owner of the record of this change-message `type` and `key` (agent unless marked). */
  ownerOf: (type: string, key: string) => RecordOwner
}

interface Entry extends MaterializedStream {
  state: SessionState
  pos: number
  /** `type\0key` of every record a collaborator owns: few, so agent records cost nothing here. */
  collaboratorRecords: Set<string>
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
    const collaboratorRecords = new Set<string>()
    const entry: Entry = {
      state: createSessionState(),
      pos: 0,
      collaboratorRecords,
      ownerOf: (type, key) => collaboratorRecords.has(`${type}\0${key}`) ? 'collaborator' : 'agent',
      unsubscribe: () => {},
    }
    let pos = 0
    let stream = this.store.head(path)
    for (let from: Parameters<StreamStore['read']>[1] = { kind: 'start' }; ;) {
      const result = this.store.read(path, from, { maxBytes: REPLAY_CHUNK_BYTES, sliceMessages: false })
      for (const message of parseJsonChunks(result.chunks)) fold(entry, message)
      pos = result.nextPos
      stream = result.stream
      if (pos >= stream.tailPos) break
      from = { kind: 'position', position: pos }
    }
    entry.pos = pos
    // Subscribed in the same tick as the last read: no commit can fall between the two.
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
    for (const message of parseJsonChunks(change.chunks)) fold(entry, message)
    entry.pos = change.toPos
  }
}

/** Applies a change message to the state and keeps the record's owner (see RecordOwner). */
function fold(entry: Entry, message: unknown): void {
  applyChange(entry.state, message)
  const change = message as { type?: unknown, key?: unknown, headers?: Record<string, unknown> }
  if (typeof change.type !== 'string' || typeof change.key !== 'string' || typeof change.headers !== 'object' || change.headers === null) return
  const record = `${change.type}\0${change.key}`
  if (change.headers.operation !== 'delete' && ownerOf(change) === 'collaborator') entry.collaboratorRecords.add(record)
  else if (entry.collaboratorRecords.size > 0) entry.collaboratorRecords.delete(record)
}
