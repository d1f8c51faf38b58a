import { and, asc, eq, gt, isNotNull, lt, lte, max, or, sql } from 'drizzle-orm'
import type { AppDatabase } from '../db/client'
import { messages, producers, streams } from '../db/schema'
import type { StreamRow } from '../db/schema'
import { isJsonContentType } from './content-type'
import type { ProducerState } from './producers'
import { removalChange } from './storage'
import type {
  AppendRequest, CreateOutcome, DataRow, LockedStreams, NewStream, Removal, RemovalPlan, StoredStream, StreamCommit,
  StreamStorage,
} from './storage'
import type { CommitWork, StorageTransaction, StreamChange } from './store'

/** A stream row as cached in memory; the process is the only writer of its SQLite file. */
interface CachedStream extends StoredStream {
  /** When the sliding TTL's access time was last written (memory holds the exact one). */
  persistedAccessAt: number
}

/** A sliding TTL is persisted at most once a second per stream; memory holds the exact time. */
const ACCESS_PERSIST_INTERVAL_MS = 1000

/** What SQLite repositories receive as the open transaction: the connection is in it already. */
const IN_TRANSACTION = {} as StorageTransaction

/**
 * Streams in SQLite through Drizzle and better-sqlite3. The process is the file's only writer,
 * so stream rows are cached in memory (updated after each commit) and a transaction needs no
 * row locks: better-sqlite3 runs it without yielding, decision included.
 */
export class SqliteStreamStorage implements StreamStorage {
  private readonly byPath = new Map<string, CachedStream>()
  private readonly byId = new Map<number, CachedStream>()
  private readonly q
  /** Runs work in one IMMEDIATE transaction; the native wrapper is built once (drizzle's per call). */
  private readonly inTransaction: (work: () => void) => void

  constructor(db: AppDatabase) {
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

  async streamByPath(path: string): Promise<StoredStream | undefined> {
    return this.lookup(path)
  }

  async streamById(id: number): Promise<StoredStream | undefined> {
    return this.recordById(id)
  }

  async append<T>(
    _request: AppendRequest,
    decide: (locked: LockedStreams) => { commits: StreamCommit[], results: T },
    work?: (results: T, tx: StorageTransaction) => ReturnType<CommitWork>,
  ): Promise<T> {
    // Sole writer, and nothing yields from here to the commit: deciding first is deciding on
    // the rows as the transaction sees them.
    const { commits, results } = decide({
      stream: path => this.lookup(path),
      producer: (streamId, producerId) => this.q.producer.get({ streamId, producerId }) as ProducerState | undefined,
    })
    if (commits.length === 0 && !work) return results
    // Data, tail and producer state commit together: a crash can never keep one without the others.
    this.inTransaction(() => {
      for (const commit of commits) this.write(commit)
      if (work && work(results, IN_TRANSACTION) instanceof Promise)
        throw new Error('Work inside a SQLite transaction must be synchronous')
    })
    for (const { stream, next, accessedAt } of commits)
      Object.assign(stream, next, { lastAccessAt: accessedAt, persistedAccessAt: accessedAt })
    return results
  }

  async create(stream: NewStream): Promise<CreateOutcome> {
    if (this.lookup(stream.path)) return { kind: 'exists' }
    const source = stream.fork && this.recordById(stream.fork.sourceId)
    if (stream.fork && (!source || source.softDeleted)) return { kind: 'source_gone' }
    const { now, fork, append } = stream
    let id = 0
    this.inTransaction(() => {
      id = this.q.insertStream.get({
        path: stream.path, now, tailPos: stream.startPos, contentType: stream.contentType, ttlSeconds: stream.ttlSeconds,
        expiresAt: stream.expiresAt, closed: stream.closed ? 1 : 0,
        forkedFromId: fork?.sourceId ?? null, forkedFromPath: fork?.sourcePath ?? null,
        forkPos: fork ? stream.startPos : null, forkRequestedOffset: fork?.requestedOffset ?? null,
        forkSubOffset: fork?.subOffset ?? 0,
      })!.id
      if (append) {
        const tailPos = stream.startPos + append.size
        this.q.insertMessage.run({ streamId: id, startPos: stream.startPos, endPos: tailPos, data: append.data, bounds: append.bounds, now })
        this.q.updateAfterAppend.run({ id, now, tailPos, closed: stream.closed ? 1 : 0, closedBy: null, lastStreamSeq: null })
      }
      if (source) this.q.updateRefCount.run({ id: source.id, refCount: source.refCount + 1 })
    })
    if (source) source.refCount++
    return { kind: 'created', stream: this.cache(this.q.streamById.get({ id })!) }
  }

  async rows(streamId: number, from: number, to: number, limit: number): Promise<DataRow[]> {
    return this.q.rows.all({ streamId, from, to, limit }) as DataRow[]
  }

  async touch(stream: StoredStream, now: number): Promise<void> {
    const record = stream as CachedStream
    record.lastAccessAt = now
    if (now - record.persistedAccessAt < ACCESS_PERSIST_INTERVAL_MS) return
    this.q.updateAccess.run({ id: record.id, now })
    record.persistedAccessAt = now
  }

  async remove(id: number, decide: (chain: StoredStream[]) => RemovalPlan | undefined): Promise<Removal> {
    const chain: CachedStream[] = []
    for (let current = this.recordById(id); current; current = current.forkedFromId === null ? undefined : this.recordById(current.forkedFromId))
      chain.push(current)
    const plan = decide(chain)
    if (!plan) return { changes: [] }
    const rows = new Map(chain.map(stream => [stream.id, stream]))
    if (plan.kind === 'soft') {
      this.q.softDelete.run({ id: plan.id })
      rows.get(plan.id)!.softDeleted = true
      return { plan, changes: [removalChange(rows.get(plan.id)!)] }
    }
    const released = plan.release === undefined ? undefined : rows.get(plan.release)!
    this.inTransaction(() => {
      for (const streamId of plan.ids) {
        this.q.deleteMessages.run({ streamId })
        this.q.deleteProducers.run({ streamId })
        this.q.deleteStream.run({ id: streamId })
      }
      if (released) this.q.updateRefCount.run({ id: released.id, refCount: released.refCount - 1 })
    })
    if (released) released.refCount--
    const changes: StreamChange[] = []
    for (const streamId of plan.ids) {
      const stream = rows.get(streamId)!
      if (this.byPath.get(stream.path) === stream) this.byPath.delete(stream.path)
      this.byId.delete(stream.id)
      changes.push(removalChange(stream))
    }
    return { plan, changes }
  }

  async trimBefore(id: number, before: number): Promise<{ dropped: number, change?: StreamChange }> {
    const record = this.recordById(id)
    const cut = record && this.q.retentionCut.get({ streamId: id, before })?.headPos
    if (!record || cut == null || cut <= record.headPos) return { dropped: 0 }
    this.inTransaction(() => {
      this.q.deleteMessagesUpTo.run({ streamId: id, headPos: cut })
      this.q.updateHead.run({ id, headPos: cut })
    })
    const dropped = cut - record.headPos
    record.headPos = cut
    return { dropped, change: { streamId: id, fromPos: record.tailPos, toPos: record.tailPos, closed: record.closed, removed: false, trimmed: true } }
  }

  async listPaths(prefix: string): Promise<string[]> {
    const pattern = `${prefix.replace(/[\\%_]/g, '\\$&')}%`
    return this.q.pathsLike.all({ pattern }).map(row => row.path)
  }

  async expiryCandidates(now: number): Promise<number[]> {
    return this.q.expiryCandidates.all({ now }).map(row => row.id)
  }

  async dispose(): Promise<void> {
    this.byPath.clear()
    this.byId.clear()
  }

  // ---------------------------------------------------------------------------------------------

  private write(commit: StreamCommit): void {
    const { stream, rows, next, accessedAt: now } = commit
    for (const row of rows)
      this.q.insertMessage.run({ streamId: stream.id, startPos: row.startPos, endPos: row.endPos, data: row.data, bounds: row.bounds, now })
    this.q.updateAfterAppend.run({ id: stream.id, now, ...next, closed: next.closed ? 1 : 0 })
    for (const { id: producerId, state } of commit.producers)
      this.q.upsertProducer.run({ streamId: stream.id, producerId, ...state, now })
  }

  private lookup(path: string): CachedStream | undefined {
    const cached = this.byPath.get(path)
    if (cached) return cached
    const row = this.q.streamByPath.get({ path })
    return row ? this.cache(row) : undefined
  }

  private recordById(id: number): CachedStream | undefined {
    const cached = this.byId.get(id)
    if (cached) return cached
    const row = this.q.streamById.get({ id })
    return row ? this.cache(row) : undefined
  }

  private cache(row: StreamRow): CachedStream {
    const record: CachedStream = { ...row, json: isJsonContentType(row.contentType), persistedAccessAt: row.lastAccessAt }
    this.byPath.set(record.path, record)
    this.byId.set(record.id, record)
    return record
  }
}
