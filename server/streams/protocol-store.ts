import { planAppend, prepareAppend, toStoredAppend } from './append-plan'
import type { PreparedAppend } from './append-plan'
import { AppendQueue } from './append-queue'
import { DEFAULT_CONTENT_TYPE, isJsonContentType, normalizeContentType } from './content-type'
import { StreamError } from './errors'
import { isExpired, slidesOnAccess } from './expiry'
import { assertSameConfig, forkAnchor, forkExpiry, forkPosition, forkSourceError, planRemoval, segmentsOf } from './forks'
import type { Segment } from './forks'
import { StreamNotifier } from './notifier'
import { formatOffset } from './offsets'
import type { ProducerState } from './producers'
import { collect, nextBoundary, resolvePosition } from './reads'
import { commitChange } from './storage'
import type { AppendState, DataRow, LockedStreams, NewStream, Removal, RemovalPlan, StoredStream, StreamCommit, StreamStorage } from './storage'
import type {
  AppendOptions, AppendResult, CommitWork, CreateResult, CreateStreamOptions, ReadFrom, ReadOptions, ReadResult,
  StreamAppend, StreamChange, StreamInfo, StreamListener, StreamStore,
} from './store'

export interface ProtocolStoreOptions {
  /** Injectable clock (ms) so TTL, expiry and retention can be tested without waiting. */
  now?: () => number
}

/** Fork chains whose segments are kept (they never change for a stream id). */
const SEGMENT_CACHE_SIZE = 10_000
/** How often a create retries when other writers keep changing the path under it. */
const CREATE_ATTEMPTS = 5

/** A stream's appends within one transaction: the state they leave and what they write. */
interface Pending {
  stream: StoredStream
  state: AppendState
  rows: DataRow[]
  producers: Map<string, ProducerState>
  /** Something beyond the access time changes. */
  writes: boolean
}

/** Thrown inside a transaction for a stream found expired: it is removed once the transaction has ended. */
class ExpiredStream extends StreamError {
  constructor(readonly stream: StoredStream) {
    super('not_found', 'Stream not found')
  }
}

/**
 * The Durable Streams protocol over any StreamStorage: the rules (append planning, producers,
 * forks, reads, TTL) come from their own pure modules and every decision is taken on rows the
 * backend has locked, so SQLite and PostgreSQL — one process or many — behave the same.
 * Live readers on this instance hear of its commits at once; a backend with other writers
 * reports theirs through `watch`.
 */
export class ProtocolStreamStore implements StreamStore {
  private readonly notifier = new StreamNotifier()
  private readonly queue: AppendQueue
  private readonly segments = new Map<number, Segment[]>()
  private readonly now: () => number

  constructor(private readonly storage: StreamStorage, options: ProtocolStoreOptions = {}) {
    this.now = options.now ?? Date.now
    this.queue = new AppendQueue((path, appends) => this.commitEach(path, appends))
    storage.watch?.({ change: change => this.notifier.publish(change), resync: () => void this.resync() })
  }

  async create(path: string, options: CreateStreamOptions): Promise<CreateResult> {
    for (let attempt = 1; ; attempt++) {
      const existing = await this.storage.streamByPath(path)
      if (existing && !(await this.removeIfExpired(existing))) {
        if (existing.softDeleted)
          throw new StreamError('config_conflict', 'This path belongs to a deleted stream that forks still read from')
        const source = options.fork && existing.forkedFromId !== null ? await this.storage.streamById(existing.forkedFromId) : undefined
        assertSameConfig(existing, options, source)
        return { created: false, stream: existing }
      }
      // Expired and removed: the path is free again (or a soft-deleted row still holds it).
      if (existing && (await this.storage.streamByPath(path))) continue
      const outcome = await this.storage.create(options.fork ? await this.forkRow(path, options) : this.plainRow(path, options))
      if (outcome.kind === 'created') return { created: true, stream: outcome.stream }
      if (outcome.kind === 'source_gone') throw new StreamError('config_conflict', `Fork source ${options.fork!.sourcePath} has been deleted`)
      if (attempt >= CREATE_ATTEMPTS) throw new StreamError('unavailable', 'The stream is being created and deleted concurrently: retry', { 'retry-after': '1' })
    }
  }

  append(path: string, options: AppendOptions): Promise<AppendResult> {
    return this.queue.push(path, prepareAppend(options))
  }

  async appendAll(appends: StreamAppend[], work?: CommitWork): Promise<AppendResult[]> {
    if (new Set(appends.map(append => append.path)).size !== appends.length)
      throw new Error('appendAll: each stream may appear once per transaction')
    const prepared = appends.map(({ path, options }) => ({ path, append: prepareAppend(options) }))
    const outcomes = await this.transact(prepared, false, work)
    return outcomes as AppendResult[]
  }

  async read(path: string, from: ReadFrom, options: ReadOptions): Promise<ReadResult> {
    const stream = await this.live(path)
    await this.touch(stream)
    const fromPos = resolvePosition(stream, from)
    if (fromPos === stream.tailPos) return { stream, fromPos, nextPos: fromPos, chunks: [] }
    return collect(stream, await this.segmentsOf(stream), fromPos, options, this.fetchRows)
  }

  head(path: string): Promise<StreamInfo> {
    return this.live(path)
  }

  listPaths(prefix: string): Promise<string[]> {
    return this.storage.listPaths(prefix)
  }

  async delete(path: string): Promise<void> {
    const stream = await this.live(path)
    const { plan, changes } = await this.storage.remove(stream.id, chain => chain[0] && !chain[0].softDeleted ? planRemoval(chain) : undefined)
    this.publish(changes)
    if (!plan) throw new StreamError('not_found', 'Stream not found')
  }

  subscribe(streamId: number, listener: StreamListener): () => void {
    return this.notifier.subscribe(streamId, listener)
  }

  async sweepExpired(): Promise<number> {
    let removed = 0
    for (const id of await this.storage.expiryCandidates(this.now())) {
      if ((await this.removeExpired(id)).plan) removed++
    }
    return removed
  }

  async trimBefore(path: string, before: number): Promise<number> {
    const stream = await this.live(path)
    const { dropped, change } = await this.storage.trimBefore(stream.id, before)
    if (change) this.publish([change])
    return dropped
  }

  dispose(): Promise<void> {
    return this.storage.dispose()
  }

  // ---------------------------------------------------------------------------------------------

  /** A batch from the append queue: one transaction, each append answered on its own. */
  private commitEach(path: string, appends: PreparedAppend[]): Promise<Array<AppendResult | Error>> {
    return this.transact(appends.map(append => ({ path, append })), true)
  }

  /**
   * One transaction for `items`, planned in order on the rows the backend locked. With
   * `eachOnItsOwn`, a refused append is answered with its error and the others commit;
   * otherwise the first refusal rolls everything back.
   */
  private async transact(items: Array<{ path: string, append: PreparedAppend }>, eachOnItsOwn: boolean, work?: CommitWork): Promise<Array<AppendResult | Error>> {
    const now = this.now()
    const expired = new Map<number, StoredStream>()
    let commits: StreamCommit[] = []
    const touched: StoredStream[] = []
    const decide = (locked: LockedStreams) => {
      const pending = new Map<number, Pending>()
      const results = items.map(({ path, append }) => {
        try {
          return this.planOne(locked, pending, path, append, now)
        }
        catch (error) {
          if (error instanceof ExpiredStream) expired.set(error.stream.id, error.stream)
          if (eachOnItsOwn && error instanceof StreamError) return error
          throw error
        }
      })
      commits = []
      touched.length = 0
      for (const entry of pending.values()) {
        if (entry.writes) {
          const producers = [...entry.producers].map(([id, state]) => ({ id, state }))
          commits.push({ stream: entry.stream, fromPos: entry.stream.tailPos, rows: entry.rows, next: entry.state, producers, accessedAt: now })
        }
        else if (slidesOnAccess(entry.stream)) touched.push(entry.stream)
      }
      return { commits, results }
    }
    const request = {
      paths: [...new Set(items.map(item => item.path))],
      producers: items.flatMap(({ path, append }) => append.options.producer ? [{ path, producerId: append.options.producer.id }] : []),
    }
    let results: Array<AppendResult | Error>
    try {
      results = await this.storage.append(request, decide, work && ((answers, tx) => work(answers as AppendResult[], tx)))
    }
    finally {
      for (const id of expired.keys()) await this.removeExpired(id)
    }
    this.publish(commits.map(commitChange))
    for (const stream of touched) await this.storage.touch(stream, now)
    return results
  }

  private planOne(locked: LockedStreams, pending: Map<number, Pending>, path: string, append: PreparedAppend, now: number): AppendResult {
    const stream = this.liveRow(locked.stream(path), now)
    let entry = pending.get(stream.id)
    if (!entry) {
      const { tailPos, closed, closedBy, lastStreamSeq } = stream
      entry = { stream, state: { tailPos, closed, closedBy, lastStreamSeq }, rows: [], producers: new Map(), writes: false }
      pending.set(stream.id, entry)
    }
    const { producer } = append.options
    const producerState = producer && (entry.producers.get(producer.id) ?? locked.producer(stream.id, producer.id))
    const decision = planAppend(stream, entry.state, append, producerState)
    if (decision.kind === 'answer') {
      const answer = decision.producer && { epoch: decision.producer.epoch, seq: decision.producer.lastSeq }
      return { stream: { ...stream, ...entry.state }, duplicate: decision.duplicate, producer: answer }
    }
    if (decision.append)
      entry.rows.push({ startPos: entry.state.tailPos, endPos: decision.next.tailPos, data: decision.append.data, bounds: decision.append.bounds })
    entry.state = decision.next
    entry.writes = true
    if (decision.producer && producer) entry.producers.set(producer.id, decision.producer)
    const answer = decision.producer && { epoch: decision.producer.epoch, seq: decision.producer.lastSeq }
    return { stream: { ...stream, ...entry.state }, duplicate: false, producer: answer }
  }

  /** A locked row for a client-facing write: 404 if absent or expired, 410 if soft-deleted. */
  private liveRow(stream: StoredStream | undefined, now: number): StoredStream {
    if (!stream) throw new StreamError('not_found', 'Stream not found')
    if (stream.softDeleted) throw new StreamError('gone', 'Stream has been deleted')
    if (isExpired(stream, now)) throw new ExpiredStream(stream)
    return stream
  }

  /** The stream at `path` for a client-facing operation: 404 if absent or expired, 410 if soft-deleted. */
  private async live(path: string, again = true): Promise<StoredStream> {
    const stream = await this.storage.streamByPath(path)
    if (!stream) throw new StreamError('not_found', 'Stream not found')
    if (stream.softDeleted) throw new StreamError('gone', 'Stream has been deleted')
    if (!isExpired(stream, this.now())) return stream
    const { plan } = await this.removeExpired(stream.id)
    // Another instance read it meanwhile (its clock restarted) or removed it: look again.
    if (!plan && again) return this.live(path, false)
    // Forks still read it: it stays, soft-deleted.
    if (plan?.kind === 'soft') throw new StreamError('gone', 'Stream has been deleted')
    throw new StreamError('not_found', 'Stream not found')
  }

  private async removeIfExpired(stream: StoredStream): Promise<boolean> {
    if (stream.softDeleted || !isExpired(stream, this.now())) return false
    await this.removeExpired(stream.id)
    return true
  }

  /** Removes a stream if — on its locked row — it is still there, not yet deleted, and expired. */
  private async removeExpired(id: number): Promise<Removal> {
    const now = this.now()
    const removal = await this.storage.remove(id, (chain): RemovalPlan | undefined => {
      const [stream] = chain
      return stream && !stream.softDeleted && isExpired(stream, now) ? planRemoval(chain) : undefined
    })
    this.publish(removal.changes)
    return removal
  }

  private async touch(stream: StoredStream): Promise<void> {
    if (slidesOnAccess(stream)) await this.storage.touch(stream, this.now())
  }

  private plainRow(path: string, options: CreateStreamOptions): NewStream {
    const contentType = normalizeContentType(options.contentType ?? DEFAULT_CONTENT_TYPE)
    return {
      path,
      contentType,
      ttlSeconds: options.ttlSeconds ?? null,
      expiresAt: options.expiresAt ?? null,
      closed: options.closed,
      now: this.now(),
      startPos: 0,
      append: toStoredAppend({ json: isJsonContentType(contentType) }, options.body, true),
    }
  }

  private async forkRow(path: string, options: CreateStreamOptions): Promise<NewStream> {
    const request = options.fork!
    let source: StoredStream
    try {
      source = await this.live(request.sourcePath)
    }
    catch (error) {
      throw forkSourceError(request.sourcePath, error)
    }
    const boundary = request.subOffset > 0
      ? await nextBoundary(source, await this.segmentsOf(source), forkAnchor(source, request), this.fetchRows)
      : undefined
    const startPos = forkPosition(source, request, options.contentType, boundary)
    return {
      path,
      contentType: source.contentType,
      ...forkExpiry(source, options),
      closed: options.closed,
      now: this.now(),
      startPos,
      append: toStoredAppend(source, options.body, true),
      fork: {
        sourceId: source.id,
        sourcePath: source.path,
        requestedOffset: request.position === undefined ? null : formatOffset(request.position),
        subOffset: request.subOffset,
      },
    }
  }

  /** A fork's segments never change (its divergence and ancestors are fixed), so they are kept. */
  private async segmentsOf(stream: StoredStream): Promise<Segment[]> {
    if (stream.forkedFromId === null) return segmentsOf(stream, undefined)
    const cached = this.segments.get(stream.id)
    if (cached) return cached
    const source = await this.storage.streamById(stream.forkedFromId)
    const segments = segmentsOf(stream, source && await this.segmentsOf(source))
    this.segments.set(stream.id, segments)
    if (this.segments.size > SEGMENT_CACHE_SIZE) this.segments.delete(this.segments.keys().next().value!)
    return segments
  }

  private readonly fetchRows = (streamId: number, from: number, to: number, limit: number) => this.storage.rows(streamId, from, to, limit)

  /**
   * After notifications may have been lost (a reconnected notification connection): every
   * stream with live readers here is told its current tail, and readers behind it read on.
   */
  private async resync(): Promise<void> {
    const ids = this.notifier.streamIds()
    if (ids.length === 0 || !this.storage.streamsById) return
    const rows = new Map((await this.storage.streamsById(ids)).map(row => [row.id, row]))
    this.publish(ids.map((id) => {
      const row = rows.get(id)
      if (!row || row.softDeleted) return { streamId: id, fromPos: 0, toPos: 0, closed: true, removed: true }
      return { streamId: id, fromPos: row.tailPos, toPos: row.tailPos, closed: row.closed, removed: false }
    }))
  }

  private publish(changes: StreamChange[]): void {
    for (const change of changes) {
      if (change.removed) this.segments.delete(change.streamId)
      this.notifier.publish(change)
    }
  }
}
