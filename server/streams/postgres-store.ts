import type { Sql, TransactionSql } from 'postgres'
import { isJsonContentType } from './content-type'
import { NOTIFY_CHANNEL, PostgresNotifications, encodeNotification, newInstanceId } from './postgres-notifications'
import type { ProducerState } from './producers'
import { commitChange, removalChange } from './storage'
import type {
  AppendRequest, CreateOutcome, DataRow, LockedStreams, NewStream, Removal, RemovalPlan, StoredStream, StreamCommit,
  StreamStorage,
} from './storage'
import type { CommitWork, StorageTransaction, StreamChange } from './store'

/** Array element types for postgres.js: int8, bytea, text. */
const INT8 = 20
const BYTEA = 17
const TEXT = 25

/** The columns of a stream row, as StoredStream names them. */
const STREAM_COLUMNS = `id, path, content_type as "contentType", ttl_seconds as "ttlSeconds", expires_at as "expiresAt",
  last_access_at as "lastAccessAt", created_at as "createdAt", tail_pos as "tailPos", head_pos as "headPos", closed,
  closed_by as "closedBy", last_stream_seq as "lastStreamSeq", forked_from_id as "forkedFromId",
  forked_from_path as "forkedFromPath", fork_pos as "forkPos", fork_requested_offset as "forkRequestedOffset",
  fork_sub_offset as "forkSubOffset", ref_count as "refCount", soft_deleted as "softDeleted"`

/** Thrown to roll a create back when its path turned out to be taken. */
class PathTaken extends Error {}

/**
 * Streams in PostgreSQL through postgres.js (the schema and its migrations are Drizzle's:
 * server/db/pg/). Nothing is cached: another instance may have written a moment ago, so every
 * decision is taken on rows locked with SELECT … FOR UPDATE in its own transaction, and a
 * transaction's statements are pipelined (sent without waiting for each answer). Commits are
 * announced to other instances with NOTIFY inside the transaction.
 */
export class PostgresStreamStorage implements StreamStorage {
  private readonly columns
  /** Names this instance in its notifications. */
  private readonly instance = newInstanceId()
  private notifications?: PostgresNotifications

  constructor(private readonly sql: Sql, private readonly url: string) {
    this.columns = sql.unsafe(STREAM_COLUMNS)
  }

  watch(handlers: { change: (change: StreamChange) => void, resync: () => void }): void {
    this.notifications = new PostgresNotifications(this.url, this.instance, handlers)
  }

  /** Resolves once notifications from other instances arrive. */
  get listening(): Promise<void> {
    return this.notifications?.ready ?? Promise.resolve()
  }

  async streamByPath(path: string): Promise<StoredStream | undefined> {
    const [row] = await this.sql<StoredStream[]>`select ${this.columns} from streams where path = ${path}`
    return row && withJson(row)
  }

  async streamById(id: number): Promise<StoredStream | undefined> {
    const [row] = await this.sql<StoredStream[]>`select ${this.columns} from streams where id = ${id}`
    return row && withJson(row)
  }

  async streamsById(ids: number[]): Promise<StoredStream[]> {
    const rows = await this.sql<StoredStream[]>`select ${this.columns} from streams where id = any(${this.sql.array(ids, INT8)})`
    return rows.map(withJson)
  }

  /**
   * On a connection of its own, pipelined: BEGIN and the locking reads go out together, then the
   * writes and COMMIT together (two round trips). If a write fails, PostgreSQL has aborted the
   * transaction and that COMMIT rolls it back. Work of the session layer runs before COMMIT.
   */
  async append<T>(
    request: AppendRequest,
    decide: (locked: LockedStreams) => { commits: StreamCommit[], results: T },
    work?: (results: T, tx: StorageTransaction) => ReturnType<CommitWork>,
  ): Promise<T> {
    const tx = await this.sql.reserve()
    let open = false
    try {
      // Locked in id order, the same in every transaction, so two never wait for each other.
      const locking = tx<StoredStream[]>`select ${this.columns} from streams where path = any(${tx.array(request.paths, TEXT)}) order by id for update`
      const producerIds = [...new Set(request.producers.map(producer => producer.producerId))]
      const loading = producerIds.length === 0
        ? Promise.resolve([])
        : tx<Array<{ streamId: number, producerId: string, epoch: number, lastSeq: number }>>`
            select p.stream_id as "streamId", p.producer_id as "producerId", p.epoch, p.last_seq as "lastSeq"
            from producers p join streams s on s.id = p.stream_id
            where s.path = any(${tx.array(request.paths, TEXT)}) and p.producer_id = any(${tx.array(producerIds, TEXT)})`
      open = true
      const [, rows, producerRows] = await Promise.all([tx`begin`, locking, loading])
      const byPath = new Map(rows.map(row => [row.path, withJson(row)]))
      const producers = new Map(producerRows.map(row => [`${row.streamId}\0${row.producerId}`, { epoch: row.epoch, lastSeq: row.lastSeq }]))
      const { commits, results } = decide({
        stream: path => byPath.get(path),
        producer: (streamId, producerId): ProducerState | undefined => producers.get(`${streamId}\0${producerId}`),
      })
      const writes = commits.map(commit => this.write(tx, commit))
      if (work) {
        await Promise.all(writes)
        await work(results, tx as unknown as StorageTransaction)
        writes.length = 0
      }
      await Promise.all([...writes, tx`commit`])
      open = false
      return results
    }
    catch (error) {
      if (open) await tx`rollback`.catch(() => {})
      throw error
    }
    finally {
      tx.release()
    }
  }

  async create(stream: NewStream): Promise<CreateOutcome> {
    const { fork, append } = stream
    try {
      return await this.sql.begin(async (tx): Promise<CreateOutcome> => {
        if (fork) {
          const [source] = await tx`update streams set ref_count = ref_count + 1 where id = ${fork.sourceId} and not soft_deleted returning id`
          if (!source) return { kind: 'source_gone' }
        }
        const tailPos = stream.startPos + (append?.size ?? 0)
        const [row] = await tx<StoredStream[]>`
          insert into streams (path, content_type, ttl_seconds, expires_at, last_access_at, created_at, tail_pos, closed,
            forked_from_id, forked_from_path, fork_pos, fork_requested_offset, fork_sub_offset)
          values (${stream.path}, ${stream.contentType}, ${stream.ttlSeconds}, ${stream.expiresAt}, ${stream.now}, ${stream.now},
            ${tailPos}, ${stream.closed}, ${fork?.sourceId ?? null}, ${fork?.sourcePath ?? null}, ${fork ? stream.startPos : null},
            ${fork?.requestedOffset ?? null}, ${fork?.subOffset ?? 0})
          on conflict (path) do nothing
          returning ${this.columns}`
        if (!row) throw new PathTaken()
        if (append) {
          await tx`insert into messages (stream_id, start_pos, end_pos, data, bounds, created_at)
            values (${row.id}, ${stream.startPos}, ${tailPos}, ${toBuffer(append.data)}, ${append.bounds}, ${stream.now})`
        }
        return { kind: 'created', stream: withJson(row) }
      })
    }
    catch (error) {
      if (error instanceof PathTaken) return { kind: 'exists' }
      throw error
    }
  }

  async rows(streamId: number, from: number, to: number, limit: number): Promise<DataRow[]> {
    return this.sql<DataRow[]>`
      select start_pos as "startPos", end_pos as "endPos", data, bounds from messages
      where stream_id = ${streamId} and end_pos > ${from} and start_pos < ${to}
      order by end_pos limit ${limit}`
  }

  /** Every access is written: the next access may come to another instance, which must see it. */
  async touch(stream: StoredStream, now: number): Promise<void> {
    await this.sql`update streams set last_access_at = greatest(last_access_at, ${now}) where id = ${stream.id}`
  }

  remove(id: number, decide: (chain: StoredStream[]) => RemovalPlan | undefined): Promise<Removal> {
    return this.sql.begin(async (tx): Promise<Removal> => {
      // A fork chain never changes: find it, then lock all of it in id order.
      const ids = await tx<Array<{ id: number }>>`
        with recursive chain(id, source) as (
          select id, forked_from_id from streams where id = ${id}
          union all
          select s.id, s.forked_from_id from streams s join chain c on s.id = c.source
        ) select id from chain`
      const rows = await tx<StoredStream[]>`select ${this.columns} from streams where id = any(${tx.array(ids.map(row => row.id), INT8)}) order by id for update`
      const byId = new Map(rows.map(row => [row.id, withJson(row)]))
      const chain: StoredStream[] = []
      for (let current = byId.get(id); current; current = current.forkedFromId === null ? undefined : byId.get(current.forkedFromId))
        chain.push(current)
      const plan = decide(chain)
      if (!plan) return { changes: [] }
      const removed = plan.kind === 'soft' ? [byId.get(plan.id)!] : plan.ids.map(streamId => byId.get(streamId)!)
      const changes = removed.map(removalChange)
      if (plan.kind === 'soft') {
        await tx`update streams set soft_deleted = true where id = ${plan.id}`
      }
      else {
        const doomed = tx.array(plan.ids, INT8)
        await Promise.all([
          tx`delete from messages where stream_id = any(${doomed})`,
          tx`delete from producers where stream_id = any(${doomed})`,
          tx`delete from streams where id = any(${doomed})`,
          plan.release === undefined ? undefined : tx`update streams set ref_count = ref_count - 1 where id = ${plan.release}`,
        ])
      }
      await Promise.all(removed.map((stream, i) => this.notify(tx, changes[i]!, stream.json)))
      return { plan, changes }
    })
  }

  trimBefore(id: number, before: number): Promise<{ dropped: number, change?: StreamChange }> {
    return this.sql.begin(async (tx) => {
      const [stream] = await tx<StoredStream[]>`select ${this.columns} from streams where id = ${id} for update`
      if (!stream) return { dropped: 0 }
      const [found] = await tx<Array<{ cut: number | null }>>`
        select max(end_pos) as cut from messages where stream_id = ${id} and created_at < ${before}`
      const cut = found?.cut ?? null
      if (cut === null || cut <= stream.headPos) return { dropped: 0 }
      const change: StreamChange = { streamId: id, fromPos: stream.tailPos, toPos: stream.tailPos, closed: stream.closed, removed: false, trimmed: true }
      await Promise.all([
        tx`delete from messages where stream_id = ${id} and end_pos <= ${cut}`,
        tx`update streams set head_pos = ${cut} where id = ${id}`,
        this.notify(tx, change, false),
      ])
      return { dropped: cut - stream.headPos, change }
    })
  }

  async listPaths(prefix: string): Promise<string[]> {
    const pattern = `${prefix.replace(/[\\%_]/g, '\\$&')}%`
    const rows = await this.sql<Array<{ path: string }>>`select path from streams where not soft_deleted and path like ${pattern} escape '\\' order by path`
    return rows.map(row => row.path)
  }

  async expiryCandidates(now: number): Promise<number[]> {
    const rows = await this.sql<Array<{ id: number }>>`
      select id from streams where not soft_deleted
        and ((expires_at is not null and expires_at <= ${now}) or (ttl_seconds is not null and last_access_at + ttl_seconds * 1000 <= ${now}))`
    return rows.map(row => row.id)
  }

  async dispose(): Promise<void> {
    await this.notifications?.stop()
  }

  // ---------------------------------------------------------------------------------------------

  /** One stream's part of an append transaction, as one statement: rows, producers, tail, notification. */
  private write(tx: Sql, commit: StreamCommit): Promise<unknown> {
    const { stream, rows, next, accessedAt: now } = commit
    const payload = encodeNotification(this.instance, commitChange(commit), stream.json)
    return tx`
      with inserted as (
        insert into messages (stream_id, start_pos, end_pos, data, bounds, created_at)
        select ${stream.id}, start_pos, end_pos, data, bounds, ${now}
        from unnest(${tx.array(rows.map(row => row.startPos), INT8)}::int8[], ${tx.array(rows.map(row => row.endPos), INT8)}::int8[],
          ${tx.array(rows.map(row => toBuffer(row.data)), BYTEA)}::bytea[], ${tx.array(rows.map(row => row.bounds), TEXT)}::text[])
          as appended(start_pos, end_pos, data, bounds)
      ), producers_kept as (
        insert into producers (stream_id, producer_id, epoch, last_seq, updated_at)
        select ${stream.id}, producer_id, epoch, last_seq, ${now}
        from unnest(${tx.array(commit.producers.map(producer => producer.id), TEXT)}::text[],
          ${tx.array(commit.producers.map(producer => producer.state.epoch), INT8)}::int8[],
          ${tx.array(commit.producers.map(producer => producer.state.lastSeq), INT8)}::int8[]) as accepted(producer_id, epoch, last_seq)
        on conflict (stream_id, producer_id) do update set epoch = excluded.epoch, last_seq = excluded.last_seq, updated_at = excluded.updated_at
      )
      update streams set tail_pos = ${next.tailPos}, closed = ${next.closed}, closed_by = ${next.closedBy},
        last_stream_seq = ${next.lastStreamSeq}, last_access_at = ${now}
      where id = ${stream.id}
      returning pg_notify(${NOTIFY_CHANNEL}, ${payload})`
  }

  private notify(tx: TransactionSql, change: StreamChange, json: boolean): Promise<unknown> {
    return tx`select pg_notify(${NOTIFY_CHANNEL}, ${encodeNotification(this.instance, change, json)})`
  }
}

function withJson(row: StoredStream): StoredStream {
  return Object.assign(row, { json: isJsonContentType(row.contentType) })
}

function toBuffer(data: Buffer | string): Buffer {
  return typeof data === 'string' ? Buffer.from(data) : data
}
