import { applyChange, createSessionState } from '#layers/durable-sessions/shared/sessions/reducer'
import type { SessionState } from '#layers/durable-sessions/shared/sessions/reducer'
import { ownerOf } from '#layers/durable-sessions/shared/sessions/wire'
import type { RecordOwner } from '#layers/durable-sessions/shared/sessions/wire'
import { StreamError } from '../streams/errors'
import { parseJsonChunks } from '../streams/json'
import type { ReadFrom, StreamChange, StreamStore } from '../streams/store'

/** A stream folded into session state, kept current by the store's notifications. */
export interface MaterializedStream {
  readonly state: SessionState
  /** Position up to which the state includes the stream. */
  readonly pos: number
  /** The owner of the record of this change-message `type` and `key` (agent unless marked). */
  ownerOf: (type: string, key: string) => RecordOwner
}

interface Entry extends MaterializedStream {
  path: string
  streamId: number
  state: SessionState
  pos: number
  /** The first read has been folded (before it, `pos` means nothing). */
  loaded: boolean
  dropped: boolean
  /** The read in flight, which concurrent callers wait for instead of reading again. */
  reading?: Promise<void>
  /** `type\0key` of every record a collaborator owns: few, so agent records cost nothing here. */
  collaboratorRecords: Set<string>
  unsubscribe: () => void
}

const REPLAY_CHUNK_BYTES = 4 * 1024 * 1024
/** How often `get` starts over when the stream is trimmed or re-created under it. */
const LOAD_ATTEMPTS = 3

/**
 * Materialised session streams, least recently used evicted. A commit announced with its data
 * is folded in as it happens (session API or raw protocol write, this instance or another);
 * `get` reads from the database whatever the announcements did not bring, so what it answers
 * includes every commit made before it was called — on any instance.
 */
export class StreamMaterializer {
  private readonly entries = new Map<string, Entry>()

  constructor(private readonly store: StreamStore, private readonly capacity = 200) {}

  /** The stream folded up to its tail as of this call; StreamError when it is gone. */
  async get(path: string): Promise<MaterializedStream> {
    for (let attempt = 1; ; attempt++) {
      const head = await this.store.head(path)
      let entry = this.entries.get(path)
      if (entry && entry.streamId !== head.id) {
        this.drop(path)
        entry = undefined
      }
      if (entry) {
        this.entries.delete(path)
        this.entries.set(path, entry)
      }
      else {
        entry = this.add(path, head.id)
      }
      try {
        while (!entry.dropped && (!entry.loaded || entry.pos < head.tailPos)) await this.readOnce(entry)
      }
      catch (error) {
        // Retention trimmed the head under a replay: replay from the new head.
        if (!(error instanceof StreamError && error.code === 'offset_gone') || attempt >= LOAD_ATTEMPTS) throw error
        this.drop(path)
      }
      if (!entry.dropped) return entry
      if (attempt >= LOAD_ATTEMPTS) throw new StreamError('unavailable', 'The stream changed while it was read: retry', { 'retry-after': '1' })
    }
  }

  /** Forgets a stream (deleted, or its head trimmed by retention): the next read replays it. */
  drop(path: string): void {
    const entry = this.entries.get(path)
    if (!entry) return
    entry.dropped = true
    entry.unsubscribe()
    this.entries.delete(path)
  }

  clear(): void {
    for (const path of [...this.entries.keys()]) this.drop(path)
  }

  /** A new entry, listening before its first read so that no commit falls between the two. */
  private add(path: string, streamId: number): Entry {
    const collaboratorRecords = new Set<string>()
    const entry: Entry = {
      path,
      streamId,
      state: createSessionState(),
      pos: 0,
      loaded: false,
      dropped: false,
      collaboratorRecords,
      ownerOf: (type, key) => collaboratorRecords.has(`${type}\0${key}`) ? 'collaborator' : 'agent',
      unsubscribe: () => {},
    }
    entry.unsubscribe = this.store.subscribe(streamId, change => this.onChange(entry, change))
    this.entries.set(path, entry)
    if (this.entries.size > this.capacity) this.drop(this.entries.keys().next().value!)
    return entry
  }

  /** One page from the entry's position (or the stream's head), folded if nothing moved meanwhile. */
  private async readOnce(entry: Entry): Promise<void> {
    if (entry.reading) return entry.reading
    const from: ReadFrom = entry.loaded ? { kind: 'position', position: entry.pos } : { kind: 'start' }
    entry.reading = (async () => {
      const result = await this.store.read(entry.path, from, { maxBytes: REPLAY_CHUNK_BYTES, cutText: false })
      if (entry.dropped) return
      if (result.stream.id !== entry.streamId) return this.drop(entry.path)
      // An announced commit was folded while this read was out: it is then already included.
      if (entry.loaded && result.fromPos !== entry.pos) return
      for (const message of parseJsonChunks(result.chunks)) fold(entry, message)
      entry.pos = result.nextPos
      entry.loaded = true
    })()
    try {
      await entry.reading
    }
    finally {
      entry.reading = undefined
    }
  }

  private onChange(entry: Entry, change: StreamChange): void {
    if (change.removed || change.trimmed) return this.drop(entry.path)
    if (!entry.loaded || !change.chunks || change.fromPos !== entry.pos) return
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
