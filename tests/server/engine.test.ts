import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StreamChange, StreamStore } from '../../server/streams/store'
import { StreamError } from '../../server/streams/errors'
import { openEngine } from '../support/stores'
import type { Backend, EngineUnderTest } from '../support/stores'

/**
 * The stream engine's contract (server/streams/store.ts) on both backends, one suite: the
 * protocol rules live in backend-independent modules, so SQLite and PostgreSQL must answer the
 * same. HTTP semantics are the conformance suite's; here are the engine's own guarantees, under
 * a clock the test moves (TTL, expiry, retention).
 */

const JSON_TYPE = 'application/json'
const json = (value: unknown) => Buffer.from(JSON.stringify(value))
const empty = { closed: false, body: Buffer.alloc(0) }

async function readJson(store: StreamStore, path: string, position?: number): Promise<unknown[]> {
  const result = await store.read(path, position === undefined ? { kind: 'start' } : { kind: 'position', position }, { maxBytes: 1 << 20, cutText: true })
  return JSON.parse(`[${result.chunks.join(',')}]`) as unknown[]
}

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  }
  catch (error) {
    if (error instanceof StreamError) return error.code
    throw error
  }
  return 'no error'
}

describe.each<Backend>(['sqlite', 'postgres'])('the stream engine on %s', (backend) => {
  let engine: EngineUnderTest
  let store: ProtocolStore
  type ProtocolStore = EngineUnderTest['store']
  beforeAll(async () => {
    engine = await openEngine(backend)
    store = engine.store
  })
  afterAll(() => engine?.close())

  it('appends a JSON stream message by message and reads it back from any position', async () => {
    await store.create('basic/json', { ...empty, contentType: JSON_TYPE })
    expect((await store.append('basic/json', { contentType: JSON_TYPE, body: json([{ n: 0 }, { n: 1 }]), close: false })).stream.tailPos).toBe(2)
    expect((await store.append('basic/json', { contentType: JSON_TYPE, body: json({ n: 2 }), close: false })).stream.tailPos).toBe(3)
    expect(await readJson(store, 'basic/json')).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }])
    expect(await readJson(store, 'basic/json', 1)).toEqual([{ n: 1 }, { n: 2 }])
    expect(await failure(store.read('basic/json', { kind: 'position', position: 4 }, { maxBytes: 100, cutText: true }))).toBe('bad_request')
  })

  it('cuts a text stream at a character boundary only when asked, and pages by bytes', async () => {
    await store.create('basic/text', { ...empty, contentType: 'text/plain' })
    await store.append('basic/text', { contentType: 'text/plain', body: Buffer.from('añb'), close: false })
    const cut = await store.read('basic/text', { kind: 'start' }, { maxBytes: 2, cutText: true })
    expect(Buffer.concat(cut.chunks as Buffer[]).toString()).toBe('a')
    expect(cut.nextPos).toBe(1)
    const whole = await store.read('basic/text', { kind: 'start' }, { maxBytes: 2, cutText: false })
    expect(Buffer.concat(whole.chunks as Buffer[]).toString()).toBe('añb')
  })

  it('deduplicates an idempotent producer and fences stale epochs', async () => {
    await store.create('producer/log', { ...empty, contentType: JSON_TYPE })
    const send = (epoch: number, seq: number) => store.append('producer/log', { contentType: JSON_TYPE, body: json({ epoch, seq }), close: false, producer: { id: 'p', epoch, seq } })
    expect((await send(0, 0)).duplicate).toBe(false)
    expect((await send(0, 0)).duplicate).toBe(true)
    expect(await failure(send(0, 2))).toBe('producer_seq_gap')
    expect((await send(1, 0)).producer).toEqual({ epoch: 1, seq: 0 })
    expect(await failure(send(0, 1))).toBe('producer_stale_epoch')
    expect(await readJson(store, 'producer/log')).toEqual([{ epoch: 0, seq: 0 }, { epoch: 1, seq: 0 }])
  })

  it('commits concurrent appends to one stream in one order, each with its own answer, refusals included', async () => {
    await store.create('batch/log', { ...empty, contentType: JSON_TYPE })
    const outcomes = await Promise.allSettled(Array.from({ length: 60 }, (_, n) => n % 10 === 9
      ? store.append('batch/log', { contentType: 'text/plain', body: Buffer.from('wrong type'), close: false })
      : store.append('batch/log', { contentType: JSON_TYPE, body: json({ n }), close: false })))
    const tails = outcomes.flatMap(outcome => outcome.status === 'fulfilled' ? [outcome.value.stream.tailPos] : [])
    expect(tails.sort((a, b) => a - b)).toEqual(Array.from({ length: 54 }, (_, i) => i + 1))
    const refusals = outcomes.flatMap(outcome => outcome.status === 'rejected' ? [(outcome.reason as StreamError).code] : [])
    expect(refusals).toEqual(Array.from({ length: 6 }, () => 'content_type_conflict'))
    expect((await readJson(store, 'batch/log')).map(message => (message as { n: number }).n).sort((a, b) => a - b))
      .toEqual(Array.from({ length: 60 }, (_, n) => n).filter(n => n % 10 !== 9))
  })

  it('commits the appends issued together in one transaction: subscribers hear one change', async () => {
    const { stream } = await store.create('batch/together', { ...empty, contentType: JSON_TYPE })
    const changes: StreamChange[] = []
    const unsubscribe = store.subscribe(stream.id, change => changes.push(change))
    const tails = await Promise.all(Array.from({ length: 8 }, (_, n) => store.append('batch/together', { contentType: JSON_TYPE, body: json({ n }), close: false })))
    unsubscribe()
    expect(tails.map(result => result.stream.tailPos)).toEqual(Array.from({ length: 8 }, (_, n) => n + 1))
    expect(changes).toHaveLength(1)
    expect(changes[0]).toMatchObject({ fromPos: 0, toPos: 8 })
    expect(await readJson(store, 'batch/together')).toEqual(Array.from({ length: 8 }, (_, n) => ({ n })))
  })

  it('appendAll commits all or nothing: a moved tail (ifTailAt) or failing work writes nothing', async () => {
    await store.create('all/a', { ...empty, contentType: JSON_TYPE })
    await store.create('all/b', { ...empty, contentType: JSON_TYPE })
    const appends = (ifTailAt: number) => [
      { path: 'all/a', options: { contentType: JSON_TYPE, body: json({ a: 1 }), close: false } },
      { path: 'all/b', options: { contentType: JSON_TYPE, body: json({ b: 1 }), close: false, ifTailAt } },
    ]
    expect(await failure(store.appendAll(appends(5)))).toBe('tail_moved')
    await expect(store.appendAll(appends(0), () => {
      throw new Error('the session record could not be written')
    })).rejects.toThrow('could not be written')
    expect((await store.head('all/a')).tailPos).toBe(0)
    expect((await store.head('all/b')).tailPos).toBe(0)
    let seen: number[] = []
    const results = await store.appendAll(appends(0), (answers) => {
      seen = answers.map(answer => answer.stream.tailPos)
    })
    expect(results.map(result => result.stream.tailPos)).toEqual([1, 1])
    expect(seen).toEqual([1, 1])
  })

  it('tells subscribers of each commit with its data, and ends them on delete', async () => {
    const { stream } = await store.create('live/log', { ...empty, contentType: JSON_TYPE })
    const changes: StreamChange[] = []
    const unsubscribe = store.subscribe(stream.id, change => changes.push(change))
    await store.append('live/log', { contentType: JSON_TYPE, body: json([{ n: 1 }, { n: 2 }]), close: false })
    expect(changes).toHaveLength(1)
    expect(changes[0]).toMatchObject({ fromPos: 0, toPos: 2, removed: false, closed: false })
    expect(JSON.parse(`[${changes[0]!.chunks!.join(',')}]`)).toEqual([{ n: 1 }, { n: 2 }])
    await store.delete('live/log')
    expect(changes.at(-1)).toMatchObject({ removed: true })
    unsubscribe()
    const again = await store.create('live/log', { ...empty, contentType: JSON_TYPE })
    expect(again.stream.id).not.toBe(stream.id)
  })

  it('expires a sliding TTL only after it went unread for its length, and at Stream-Expires-At', async () => {
    await store.create('ttl/sliding', { ...empty, contentType: JSON_TYPE, ttlSeconds: 10 })
    await store.create('ttl/fixed', { ...empty, contentType: JSON_TYPE, expiresAt: engine.clock.now + 5_000 })
    engine.clock.now += 6_000
    await store.read('ttl/sliding', { kind: 'now' }, { maxBytes: 10, cutText: true })
    expect(await failure(store.head('ttl/fixed'))).toBe('not_found')
    engine.clock.now += 6_000
    expect((await store.head('ttl/sliding')).ttlSeconds).toBe(10)
    engine.clock.now += 5_000
    expect(await store.sweepExpired()).toBe(1)
    expect(await failure(store.head('ttl/sliding'))).toBe('not_found')
  })

  it('reads a fork through its source, keeps a deleted source while the fork lives, and frees both after', async () => {
    await store.create('fork/source', { ...empty, contentType: JSON_TYPE, body: json([{ n: 0 }, { n: 1 }, { n: 2 }]) })
    await store.create('fork/child', { ...empty, fork: { sourcePath: 'fork/source', position: 2, subOffset: 0 } })
    await store.append('fork/child', { contentType: JSON_TYPE, body: json({ child: true }), close: false })
    expect(await readJson(store, 'fork/child')).toEqual([{ n: 0 }, { n: 1 }, { child: true }])
    await store.delete('fork/source')
    expect(await failure(store.head('fork/source'))).toBe('gone')
    expect(await readJson(store, 'fork/child')).toEqual([{ n: 0 }, { n: 1 }, { child: true }])
    await store.delete('fork/child')
    expect(await failure(store.head('fork/source'))).toBe('not_found')
    expect(await store.listPaths('fork/')).toEqual([])
  })

  it('trims retention from the head: older reads answer offset_gone, the rest stays', async () => {
    await store.create('retained/log', { ...empty, contentType: JSON_TYPE })
    await store.append('retained/log', { contentType: JSON_TYPE, body: json([{ n: 0 }, { n: 1 }]), close: false })
    engine.clock.now += 1_000
    const cut = engine.clock.now
    engine.clock.now += 1_000
    await store.append('retained/log', { contentType: JSON_TYPE, body: json({ n: 2 }), close: false })
    expect(await store.trimBefore('retained/log', cut)).toBe(2)
    expect(await store.trimBefore('retained/log', cut)).toBe(0)
    expect(await readJson(store, 'retained/log')).toEqual([{ n: 2 }])
    expect(await failure(readJson(store, 'retained/log', 0))).toBe('offset_gone')
  })
})

describe('two instances on one PostgreSQL database', () => {
  let engine: EngineUnderTest
  let a: StreamStore
  let b: StreamStore
  beforeAll(async () => {
    engine = await openEngine('postgres')
    a = engine.store
    b = await engine.another()
  })
  afterAll(() => engine?.close())

  it('give concurrent appends to one stream strictly increasing offsets, and deduplicate a producer exactly', async () => {
    await a.create('shared/log', { ...empty, contentType: JSON_TYPE })
    const writes = Array.from({ length: 40 }, (_, n) => (n % 2 ? a : b).append('shared/log', { contentType: JSON_TYPE, body: json({ n }), close: false }))
    const tails = (await Promise.all(writes)).map(result => result.stream.tailPos).sort((x, y) => x - y)
    expect(tails).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    // The same producer request sent to both at once: stored once.
    const producer = { id: 'twice', epoch: 0, seq: 0 }
    const both = await Promise.all([a, b].map(store => store.append('shared/log', { contentType: JSON_TYPE, body: json({ once: true }), close: false, producer })))
    expect(both.map(result => result.duplicate).sort()).toEqual([false, true])
    expect((await readJson(a, 'shared/log')).filter(message => (message as { once?: boolean }).once)).toHaveLength(1)
  })

  it('tell each other\'s subscribers: small commits carry their data, large ones are read', async () => {
    const { stream } = await a.create('shared/live', { ...empty, contentType: JSON_TYPE })
    const changes: StreamChange[] = []
    b.subscribe(stream.id, change => changes.push(change))
    await a.append('shared/live', { contentType: JSON_TYPE, body: json({ small: 1 }), close: false })
    await a.append('shared/live', { contentType: JSON_TYPE, body: json({ large: 'x'.repeat(10_000) }), close: false })
    await expect.poll(() => changes.length).toBe(2)
    expect(changes[0]).toMatchObject({ fromPos: 0, toPos: 1 })
    expect(JSON.parse(String(changes[0]!.chunks))).toEqual({ small: 1 })
    expect(changes[1]).toMatchObject({ fromPos: 1, toPos: 2 })
    expect(changes[1]!.chunks).toBeUndefined()
  })
})
