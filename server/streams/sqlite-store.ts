import { and, asc, eq, gt, isNotNull, lt, lte, max, or, sql } from 'drizzle-orm'
import type { AppDatabase } from '../db/client'
import { messages, producers, streams } from '../db/schema'
import type { StreamRow } from '../db/schema'
import { DEFAULT_CONTENT_TYPE, isJsonContentType, isTextContentType, normalizeContentType, sameMediaType } from './content-type'
import { StreamError, badRequest } from './errors'
import { encodeJsonAppend, formatBounds, parseBounds, sliceJsonAppend } from './json'
import { StreamNotifier } from './notifier'
import { formatOffset } from './offsets'
import { decideProducer } from './producers'
import type { ProducerState } from './producers'
import type {
  AppendOptions, AppendResult, CreateResult, CreateStreamOptions, ProducerTuple, ReadFrom, ReadOptions, ReadResult,
  StreamAppend, StreamChange, StreamChunk, StreamInfo, StreamListener, StreamStore,
} from './store'

export interface SqliteStreamStoreOptions {
  /** Injectable clock (ms) so TTL, expiry and retention can be tested without waiting. */
  now?: () => number
}

/** A stream's metadata as cached in memory; the process is the only writer of its SQLite file. */
interface StreamRecord extends StreamRow, StreamInfo {
  id: number
  path: string
  contentType: string
  ttlSeconds: number | null
  expiresAt: number | null
  tailPos: number
  closed: boolean
  json: boolean
  persistedAccessAt: number
  segments?: Segment[]
}

/** A range of logical positions served from one stream's own rows. */
interface Segment {
  streamId: number
  from: number
  to: number
}

/** A validated append waiting for its transaction. */
interface AppendPlan {
  record: StreamRecord
  options: AppendOptions
  producerState?: ProducerState
  append?: StoredAppend
  fromPos: number
  next: { tailPos: number, closed: boolean, closedBy: string | null, lastStreamSeq: string | null }
}

/** One append as it is stored: its data, JSON message bounds, and how many positions it spans. */
interface StoredAppend {
  data: Buffer | string
  bounds: string | null
  size: number
}

interface DataRow {
  startPos: number
  endPos: number
  data: Buffer | string
  bounds: string | null
}


const ROWS_PER_QUERY = 512
/** A sliding TTL is persisted at most once a second per stream; memory holds the exact time. */
const ACCESS_PERSIST_INTERVAL_MS = 1000

export class SqliteStreamStore implements StreamStore {
  private readonly byPath = new Map<string, StreamRecord>()
  private readonly byId = new Map<number, StreamRecord>()
  private readonly notifier = new StreamNotifier()
  private readonly now: () => number
  private readonly q
  /** Runs work in one IMMEDIATE transaction; the native wrapper is built once (drizzle's per call). */
  private readonly inTransaction: (work: () => void) => void

  constructor(db: AppDatabase, options: SqliteStreamStoreOptions = {}) {
    this.now = options.now ?? Date.now
    const native = db.$client.transaction((work: () => void) => work())
    this.inTransaction = work => native.immediate(work)
    const p = (name: string) => sql.placeholder(name)
    this.q = {
      streamByPath: db.select().from(streams).where(eq(streams.path, p('path'))).prepare(),
      streamById: db.select().from(streams).where(eq(streams.id, p('id'))).prepare(),
      insertStream: db.insert(streams).values({
        path: p('path'), contentType: p('contentType'), ttlSeconds: p('ttlSeconds'), expiresAt: p('expiresAt'),
        lastAccessAt: p('now'), createdAt: p('now'), tailPos: p('tailPos'), closed: p('closed'),
        forkedFromId: p('forkedFromId'), forkedFromPath: p('forkedFromPath'), forkPos: p('forkPos'),
        forkRequestedOffset: p('forkRequestedOffset'), forkSubOffset: p('forkSubOffset'),
      }).returning({ id: streams.id }).prepare(),
      updateAfterAppend: db.update(streams).set({
        tailPos: sql`${p('tailPos')}`, closed: sql`${p('closed')}`, closedBy: sql`${p('closedBy')}`,
        lastAccessAt: sql`${p('now')}`, lastStreamSeq: sql`${p('lastStreamSeq')}`,
      }).where(eq(streams.id, p('id'))).prepare(),
      updateAccess: db.update(streams).set({ lastAccessAt: sql`${p('now')}` }).where(eq(streams.id, p('id'))).prepare(),
      updateRefCount: db.update(streams).set({ refCount: sql`${p('refCount')}` }).where(eq(streams.id, p('id'))).prepare(),
      softDelete: db.update(streams).set({ softDeleted: true }).where(eq(streams.id, p('id'))).prepare(),
      updateHead: db.update(streams).set({ headPos: sql`${p('headPos')}` }).where(eq(streams.id, p('id'))).prepare(),
      deleteStream: db.delete(streams).where(eq(streams.id, p('id'))).prepare(),
      insertMessage: db.insert(messages).values({
        streamId: p('streamId'), startPos: p('startPos'), endPos: p('endPos'),
        data: p('data'), bounds: p('bounds'), createdAt: p('now'),
      }).prepare(),
      rows: db.select({ startPos: messages.startPos, endPos: messages.endPos, data: messages.data, bounds: messages.bounds })
        .from(messages)
        .where(and(eq(messages.streamId, p('streamId')), gt(messages.endPos, p('from')), lt(messages.startPos, p('to'))))
        .orderBy(asc(messages.endPos)).limit(p('limit')).prepare(),
      deleteMessages: db.delete(messages).where(eq(messages.streamId, p('streamId'))).prepare(),
      deleteMessagesUpTo: db.delete(messages)
        .where(and(eq(messages.streamId, p('streamId')), lte(messages.endPos, p('headPos')))).prepare(),
      retentionCut: db.select({ headPos: max(messages.endPos) }).from(messages)
        .where(and(eq(messages.streamId, p('streamId')), lt(messages.createdAt, p('before')))).prepare(),
      producer: db.select({ epoch: producers.epoch, lastSeq: producers.lastSeq }).from(producers)
        .where(and(eq(producers.streamId, p('streamId')), eq(producers.producerId, p('producerId')))).prepare(),
      upsertProducer: db.insert(producers).values({
        streamId: p('streamId'), producerId: p('producerId'), epoch: p('epoch'), lastSeq: p('lastSeq'), updatedAt: p('now'),
      }).onConflictDoUpdate({
        target: [producers.streamId, producers.producerId],
        set: { epoch: sql`excluded.epoch`, lastSeq: sql`excluded.last_seq`, updatedAt: sql`excluded.updated_at` },
      }).prepare(),
      deleteProducers: db.delete(producers).where(eq(producers.streamId, p('streamId'))).prepare(),
      pathsLike: db.select({ path: streams.path }).from(streams)
        .where(and(eq(streams.softDeleted, false), sql`${streams.path} LIKE ${p('pattern')} ESCAPE '\\'`)).prepare(),
      expiryCandidates: db.select({ id: streams.id }).from(streams).where(and(
        eq(streams.softDeleted, false),
        or(
          and(isNotNull(streams.expiresAt), lte(streams.expiresAt, p('now'))),
          and(isNotNull(streams.ttlSeconds), lte(sql`${streams.lastAccessAt} + ${streams.ttlSeconds} * 1000`, p('now'))),
        ),
      )).prepare(),
    }
  }

  create(path: string, options: CreateStreamOptions): CreateResult {
    const existing = this.lookup(path)
    if (existing) {
      this.removeIfExpired(existing)
      if (existing.softDeleted)
        throw new StreamError('config_conflict', 'This path belongs to a deleted stream that forks still read from')
      if (this.byPath.get(path) === existing) {
        this.assertSameConfig(existing, options)
        return { created: false, stream: existing }
      }
    }
    return { created: true, stream: options.fork ? this.createFork(path, options) : this.createPlain(path, options) }
  }

  append(path: string, options: AppendOptions): AppendResult {
    return this.appendAll([{ path, options }])[0]!
  }

  appendAll(appends: StreamAppend[], inTransaction?: () => void): AppendResult[] {
    const now = this.now()
    const outcomes = appends.map(({ path, options }) => this.planAppend(this.live(path), options, now))
    const plans = outcomes.filter((outcome): outcome is AppendPlan => 'record' in outcome)
    if (new Set(plans.map(plan => plan.record.id)).size !== plans.length)
      throw new Error('appendAll: each stream may appear once per transaction')
    if (plans.length > 0 || inTransaction) {
      // Data, tail and producer state commit together: a crash can never keep one without the others.
      this.inTransaction(() => {
        for (const plan of plans) {
          const { record, options } = plan
          plan.next.tailPos = this.insertAppend(record.id, plan.fromPos, plan.append, now)
          this.q.updateAfterAppend.run({ id: record.id, now, ...plan.next, closed: plan.next.closed ? 1 : 0 })
          if (plan.producerState && options.producer)
            this.q.upsertProducer.run({ streamId: record.id, producerId: options.producer.id, ...plan.producerState, now })
        }
        inTransaction?.()
      })
    }
    for (const plan of plans) {
      Object.assign(plan.record, plan.next, { lastAccessAt: now, persistedAccessAt: now })
      this.publish({ streamId: plan.record.id, fromPos: plan.fromPos, toPos: plan.next.tailPos, chunks: plan.append ? [plan.append.data] : [], closed: plan.next.closed, removed: false })
    }
    return outcomes.map(outcome => 'record' in outcome
      ? {
          stream: outcome.record,
          duplicate: false,
          producer: outcome.producerState ? { epoch: outcome.producerState.epoch, seq: outcome.producerState.lastSeq } : undefined,
        }
      : outcome)
  }

  /**
   * Validates an append in the order §5.2 prescribes (producer fencing, closure, content type,
   * Stream-Seq, body) and returns what to write — or the answer when nothing is to be written.
   */
  private planAppend(record: StreamRecord, options: AppendOptions, now: number): AppendPlan | AppendResult {
    let producerState: ProducerState | undefined
    if (options.producer) {
      const decision = decideProducer(this.loadProducer(record.id, options.producer.id), options.producer)
      if (decision.kind === 'duplicate' && (!record.closed || record.closedBy === closingTuple(options.producer))) {
        this.touchRecord(record, now)
        return { stream: record, duplicate: true, producer: { epoch: decision.state.epoch, seq: decision.state.lastSeq } }
      }
      producerState = decision.state
    }
    const hasBody = options.body.length > 0
    if (record.closed) {
      if (!hasBody && options.close) {
        this.touchRecord(record, now)
        return { stream: record, duplicate: false }
      }
      throw new StreamError('stream_closed', 'Stream is closed: no further appends are accepted', {
        'Stream-Closed': 'true',
        'Stream-Next-Offset': formatOffset(record.tailPos),
      })
    }
    if (!hasBody && !options.close)
      throw badRequest('Empty body: an append must carry data unless it closes the stream (Stream-Closed: true)')
    if (hasBody) {
      if (!options.contentType) throw badRequest('Content-Type is required when appending data')
      if (!sameMediaType(normalizeContentType(options.contentType), record.contentType)) {
        throw new StreamError('content_type_conflict',
          `Content-Type ${options.contentType} does not match the stream's ${record.contentType}`)
      }
    }
    if (options.streamSeq !== undefined && record.lastStreamSeq !== null
      && Buffer.compare(Buffer.from(options.streamSeq), Buffer.from(record.lastStreamSeq)) <= 0) {
      throw new StreamError('seq_conflict',
        `Stream-Seq ${JSON.stringify(options.streamSeq)} is not greater than the last (${JSON.stringify(record.lastStreamSeq)})`)
    }
    return {
      record,
      options,
      producerState,
      append: hasBody ? this.toAppend(record, options.body, false) : undefined,
      fromPos: record.tailPos,
      next: {
        tailPos: record.tailPos,
        closed: options.close,
        closedBy: options.close && options.producer ? closingTuple(options.producer) : null,
        lastStreamSeq: options.streamSeq ?? record.lastStreamSeq,
      },
    }
  }

  read(path: string, from: ReadFrom, options: ReadOptions): ReadResult {
    const record = this.live(path)
    this.touchRecord(record, this.now())
    const fromPos = this.resolvePosition(record, from)
    if (fromPos === record.tailPos) return { stream: record, fromPos, nextPos: fromPos, chunks: [] }
    return this.collect(record, fromPos, options)
  }

  head(path: string): StreamInfo {
    return this.live(path)
  }

  listPaths(prefix: string): string[] {
    const pattern = `${prefix.replace(/[\\%_]/g, '\\$&')}%`
    return this.q.pathsLike.all({ pattern }).map(row => row.path)
  }

  delete(path: string): void {
    this.remove(this.live(path))
  }

  subscribe(streamId: number, listener: StreamListener): () => void {
    return this.notifier.subscribe(streamId, listener)
  }

  sweepExpired(): number {
    let removed = 0
    for (const { id } of this.q.expiryCandidates.all({ now: this.now() })) {
      const record = this.recordById(id)
      if (record && !record.softDeleted && this.removeIfExpired(record)) removed++
    }
    return removed
  }

  trimBefore(path: string, before: number): number {
    const record = this.live(path)
    const cut = this.q.retentionCut.get({ streamId: record.id, before })?.headPos
    if (cut == null || cut <= record.headPos) return 0
    this.inTransaction(() => {
      this.q.deleteMessagesUpTo.run({ streamId: record.id, headPos: cut })
      this.q.updateHead.run({ id: record.id, headPos: cut })
    })
    const dropped = cut - record.headPos
    record.headPos = cut
    return dropped
  }

  dispose(): void {
    this.byPath.clear()
    this.byId.clear()
  }

  // ---------------------------------------------------------------------------------------------

  private createPlain(path: string, options: CreateStreamOptions): StreamRecord {
    const contentType = normalizeContentType(options.contentType ?? DEFAULT_CONTENT_TYPE)
    const append = this.toAppend({ json: isJsonContentType(contentType) }, options.body, true)
    return this.insertStream(path, {
      contentType,
      ttlSeconds: options.ttlSeconds ?? null,
      expiresAt: options.expiresAt ?? null,
      closed: options.closed,
      fork: undefined,
    }, append)
  }

  private createFork(path: string, options: CreateStreamOptions): StreamRecord {
    const request = options.fork!
    const source = this.forkSource(request.sourcePath)
    if (options.contentType !== undefined && !sameMediaType(normalizeContentType(options.contentType), source.contentType)) {
      throw new StreamError('content_type_conflict',
        `A fork keeps its source's content type (${source.contentType}), not ${options.contentType}`)
    }
    const anchor = request.position ?? source.tailPos
    if (anchor > source.tailPos) throw badRequest('Stream-Fork-Offset is beyond the source stream\'s tail')
    if (request.subOffset > 0) {
      const boundary = this.nextBoundary(source, anchor)
      if (boundary === undefined || anchor + request.subOffset > boundary)
        throw badRequest('Stream-Fork-Sub-Offset reaches past the next append of the source stream')
    }
    const expiry = this.forkExpiry(source, options)
    const append = this.toAppend(source, options.body, true)
    return this.insertStream(path, {
      contentType: source.contentType,
      ...expiry,
      closed: options.closed,
      fork: {
        source,
        position: anchor + request.subOffset,
        requestedOffset: request.position === undefined ? null : formatOffset(request.position),
        subOffset: request.subOffset,
      },
    }, append)
  }

  private insertStream(path: string, config: {
    contentType: string
    ttlSeconds: number | null
    expiresAt: number | null
    closed: boolean
    fork?: { source: StreamRecord, position: number, requestedOffset: string | null, subOffset: number }
  }, append: StoredAppend | undefined): StreamRecord {
    const now = this.now()
    const { fork } = config
    const startPos = fork?.position ?? 0
    let id = 0
    let tailPos = startPos
    this.inTransaction(() => {
      id = this.q.insertStream.get({
        path, now, tailPos: startPos, contentType: config.contentType, ttlSeconds: config.ttlSeconds,
        expiresAt: config.expiresAt, closed: config.closed ? 1 : 0,
        forkedFromId: fork?.source.id ?? null, forkedFromPath: fork?.source.path ?? null,
        forkPos: fork?.position ?? null, forkRequestedOffset: fork?.requestedOffset ?? null,
        forkSubOffset: fork?.subOffset ?? 0,
      })!.id
      tailPos = this.insertAppend(id, startPos, append, now)
      if (tailPos !== startPos)
        this.q.updateAfterAppend.run({ id, now, tailPos, closed: config.closed ? 1 : 0, closedBy: null, lastStreamSeq: null })
      if (fork) this.q.updateRefCount.run({ id: fork.source.id, refCount: fork.source.refCount + 1 })
    })
    if (fork) fork.source.refCount++
    return this.cache(this.q.streamById.get({ id })!)
  }

  private insertAppend(streamId: number, fromPos: number, append: StoredAppend | undefined, now: number): number {
    if (!append) return fromPos
    const endPos = fromPos + append.size
    this.q.insertMessage.run({ streamId, startPos: fromPos, endPos, data: append.data, bounds: append.bounds, now })
    return endPos
  }

  private toAppend(stream: { json: boolean }, body: Buffer, allowEmptyArray: boolean): StoredAppend | undefined {
    if (body.length === 0) return undefined
    if (!stream.json) return { data: body, bounds: null, size: body.length }
    const encoded = encodeJsonAppend(body, allowEmptyArray)
    return encoded && { data: encoded.data, bounds: formatBounds(encoded.ends), size: encoded.count }
  }

  private forkSource(sourcePath: string): StreamRecord {
    try {
      return this.live(sourcePath)
    }
    catch (error) {
      if (error instanceof StreamError && error.code === 'not_found')
        throw new StreamError('not_found', `Fork source ${sourcePath} does not exist`)
      if (error instanceof StreamError && error.code === 'gone')
        throw new StreamError('config_conflict', `Fork source ${sourcePath} has been deleted`)
      throw error
    }
  }

  /** PROTOCOL.md §4.2: a fork's own TTL or expiry wins; otherwise it inherits the source's. */
  private forkExpiry(source: StreamRecord, options: CreateStreamOptions) {
    if (options.ttlSeconds !== undefined) return { ttlSeconds: options.ttlSeconds, expiresAt: null }
    if (options.expiresAt !== undefined) return { ttlSeconds: null, expiresAt: options.expiresAt }
    return { ttlSeconds: source.ttlSeconds, expiresAt: source.expiresAt }
  }

  private assertSameConfig(existing: StreamRecord, options: CreateStreamOptions): void {
    const request = options.fork
    const mismatch = (what: string) =>
      new StreamError('config_conflict', `A stream already exists at this path with a different ${what}`)
    if (Boolean(request) !== (existing.forkedFromId !== null)) throw mismatch('fork source')
    let expected: { ttlSeconds: number | null, expiresAt: number | null }
    if (request) {
      if (request.sourcePath !== existing.forkedFromPath) throw mismatch('fork source')
      const requestedOffset = request.position === undefined ? null : formatOffset(request.position)
      if (requestedOffset !== existing.forkRequestedOffset || request.subOffset !== existing.forkSubOffset)
        throw mismatch('fork offset')
      const source = this.recordById(existing.forkedFromId!)
      expected = source ? this.forkExpiry(source, options) : { ttlSeconds: options.ttlSeconds ?? null, expiresAt: options.expiresAt ?? null }
    }
    else {
      expected = { ttlSeconds: options.ttlSeconds ?? null, expiresAt: options.expiresAt ?? null }
    }
    const contentType = options.contentType ?? (request ? existing.contentType : DEFAULT_CONTENT_TYPE)
    if (!sameMediaType(normalizeContentType(contentType), existing.contentType)) throw mismatch('content type')
    if (expected.ttlSeconds !== existing.ttlSeconds || expected.expiresAt !== existing.expiresAt)
      throw mismatch('TTL or expiry')
    if (options.closed !== existing.closed) throw mismatch('closure status')
  }

  private resolvePosition(record: StreamRecord, from: ReadFrom): number {
    const head = record.forkedFromId === null ? record.headPos : 0
    if (from.kind === 'start') return head
    if (from.kind === 'now') return record.tailPos
    if (from.position > record.tailPos) throw badRequest('Offset is beyond the end of the stream')
    if (from.position < head) {
      throw new StreamError('offset_gone', 'Offset is before the earliest retained data of this stream', {
        'Stream-Next-Offset': formatOffset(head),
      })
    }
    return from.position
  }

  /** Reads from `fromPos` across the fork chain, up to the byte budget. */
  private collect(record: StreamRecord, fromPos: number, options: ReadOptions): ReadResult {
    const out: StreamChunk[] = []
    const textual = isTextContentType(record.contentType)
    let bytes = 0
    let pos = fromPos
    outer: for (const segment of this.segmentsOf(record)) {
      const end = Math.min(segment.to, record.tailPos)
      while (pos < end) {
        const rows = this.q.rows.all({ streamId: segment.streamId, from: pos, to: end, limit: ROWS_PER_QUERY }) as DataRow[]
        if (rows.length === 0) break
        for (const row of rows) {
          const start = Math.max(row.startPos, pos)
          const stop = Math.min(row.endPos, end)
          const room = options.maxBytes - bytes
          const first = out.length === 0
          const piece = record.json
            ? jsonPiece(row, start, stop, room, first)
            : bytePiece(row, start, stop, room, first, options.sliceMessages, textual)
          if (!piece) break outer
          out.push(piece.data)
          bytes += piece.data.length
          pos = piece.end
          if (pos < stop) break outer
        }
      }
    }
    return { stream: record, fromPos, nextPos: pos, chunks: out }
  }

  /** End of the append that holds `position` (the limit of a fork sub-offset), if any data follows. */
  private nextBoundary(record: StreamRecord, position: number): number | undefined {
    for (const segment of this.segmentsOf(record)) {
      const end = Math.min(segment.to, record.tailPos)
      if (end <= position) continue
      const [row] = this.q.rows.all({ streamId: segment.streamId, from: position, to: end, limit: 1 }) as DataRow[]
      if (row) return Math.min(row.endPos, end)
    }
    return undefined
  }

  private segmentsOf(record: StreamRecord): Segment[] {
    if (record.segments) return record.segments
    const own: Segment = { streamId: record.id, from: record.forkPos ?? 0, to: Number.POSITIVE_INFINITY }
    if (record.forkedFromId === null) return (record.segments = [own])
    const source = this.recordById(record.forkedFromId)
    const inherited = source
      ? this.segmentsOf(source)
          .map(segment => ({ ...segment, to: Math.min(segment.to, record.forkPos!) }))
          .filter(segment => segment.from < segment.to)
      : []
    return (record.segments = [...inherited, own])
  }

  private loadProducer(streamId: number, producerId: string): ProducerState | undefined {
    return this.q.producer.get({ streamId, producerId })
  }

  /** The record at `path` for a client-facing operation: 404 if absent or expired, 410 if soft-deleted. */
  private live(path: string): StreamRecord {
    const record = this.lookup(path)
    if (!record) throw new StreamError('not_found', 'Stream not found')
    if (this.removeIfExpired(record) && !record.softDeleted) throw new StreamError('not_found', 'Stream not found')
    if (record.softDeleted) throw new StreamError('gone', 'Stream has been deleted')
    return record
  }

  private lookup(path: string): StreamRecord | undefined {
    const cached = this.byPath.get(path)
    if (cached) return cached
    const row = this.q.streamByPath.get({ path })
    return row ? this.cache(row) : undefined
  }

  private recordById(id: number): StreamRecord | undefined {
    const cached = this.byId.get(id)
    if (cached) return cached
    const row = this.q.streamById.get({ id })
    return row ? this.cache(row) : undefined
  }

  private cache(row: StreamRow): StreamRecord {
    const record: StreamRecord = { ...row, json: isJsonContentType(row.contentType), persistedAccessAt: row.lastAccessAt }
    this.byPath.set(record.path, record)
    this.byId.set(record.id, record)
    return record
  }

  private isExpired(record: StreamRecord, now: number): boolean {
    if (record.expiresAt !== null && now >= record.expiresAt) return true
    return record.ttlSeconds !== null && now >= record.lastAccessAt + record.ttlSeconds * 1000
  }

  /** Expired streams vanish at once: deleted, or soft-deleted while forks still read them. */
  private removeIfExpired(record: StreamRecord): boolean {
    if (record.softDeleted || !this.isExpired(record, this.now())) return false
    this.remove(record)
    return true
  }

  private touchRecord(record: StreamRecord, now: number): void {
    if (record.ttlSeconds === null) return
    record.lastAccessAt = now
    if (now - record.persistedAccessAt < ACCESS_PERSIST_INTERVAL_MS) return
    this.q.updateAccess.run({ id: record.id, now })
    record.persistedAccessAt = now
  }

  private remove(record: StreamRecord): void {
    if (record.refCount > 0) {
      this.q.softDelete.run({ id: record.id })
      record.softDeleted = true
      this.publishRemoved(record)
      return
    }
    // Deleting a fork releases its source; a soft-deleted source with no forks left goes too.
    const doomed: StreamRecord[] = [record]
    let released: StreamRecord | undefined
    for (let current = record; current.forkedFromId !== null;) {
      const source = this.recordById(current.forkedFromId)
      if (!source) break
      if (!(source.softDeleted && source.refCount === 1)) {
        released = source
        break
      }
      doomed.push(source)
      current = source
    }
    this.inTransaction(() => {
      for (const stream of doomed) {
        this.q.deleteMessages.run({ streamId: stream.id })
        this.q.deleteProducers.run({ streamId: stream.id })
        this.q.deleteStream.run({ id: stream.id })
      }
      if (released) this.q.updateRefCount.run({ id: released.id, refCount: released.refCount - 1 })
    })
    if (released) released.refCount--
    for (const stream of doomed) {
      if (this.byPath.get(stream.path) === stream) this.byPath.delete(stream.path)
      this.byId.delete(stream.id)
      this.publishRemoved(stream)
    }
  }

  private publishRemoved(record: StreamRecord): void {
    this.publish({ streamId: record.id, fromPos: record.tailPos, toPos: record.tailPos, chunks: [], closed: record.closed, removed: true })
  }

  private publish(change: StreamChange): void {
    this.notifier.publish(change)
  }
}

/**
 * The part of a byte row between positions `start` and `stop` that fits in `room` bytes: all of
 * it, or — when slicing is allowed — a cut that never splits a UTF-8 character of a text
 * stream. The first piece of a read is never empty. Undefined when nothing more fits.
 */
function bytePiece(row: DataRow, start: number, stop: number, room: number, first: boolean, slice: boolean, textual: boolean): { data: Buffer, end: number } | undefined {
  const data = Buffer.isBuffer(row.data) ? row.data : Buffer.from(row.data)
  const offset = start - row.startPos
  let length = stop - start
  if (length > room) {
    if (!slice) {
      if (!first) return undefined
    }
    else {
      if (room <= 0) return undefined
      length = room
      if (textual) {
        while (length > 1 && (data[offset + length]! & 0xC0) === 0x80) length--
      }
    }
  }
  const whole = offset === 0 && length === data.length
  return { data: whole ? data : data.subarray(offset, offset + length), end: start + length }
}

/**
 * The whole messages of a JSON row between positions `start` and `stop` that fit in `room`
 * bytes (the first piece of a read always holds at least one); undefined when none fits.
 * (Rows written before JSON appends were stored as bytes hold text with string-index bounds.)
 */
function jsonPiece(row: DataRow, start: number, stop: number, room: number, first: boolean): { data: Buffer | string, end: number } | undefined {
  const data = row.data
  if (start === row.startPos && stop === row.endPos && data.length <= room) return { data, end: stop }
  const ends = parseBounds(row.bounds)
  const from = start - row.startPos
  const startOffset = from === 0 ? 0 : ends[from - 1]! + 1
  const stopOffset = (to: number) => (to > ends.length ? data.length : ends[to - 1]!)
  // The largest `to` whose messages fit: message ends are increasing, so bisect.
  let low = from
  let high = stop - row.startPos
  while (low < high) {
    const middle = Math.ceil((low + high) / 2)
    if (stopOffset(middle) - startOffset <= room) low = middle
    else high = middle - 1
  }
  if (low === from) {
    if (!first) return undefined
    low = from + 1
  }
  return { data: sliceJsonAppend(data, ends, from, low), end: row.startPos + low }
}

function closingTuple(producer: ProducerTuple): string {
  return JSON.stringify([producer.id, producer.epoch, producer.seq])
}
