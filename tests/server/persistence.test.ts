import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer } from '../support/server'
import type { TestServer } from '../support/server'
import { seededBytes, seededRandom } from '../support/random'
import { STREAM_PREFIX, call, headStatus, readAll } from '../support/streams'
import type { SimpleResponse } from '../support/streams'

/**
 * Everything a client can observe about a stream must be the same after the server process is
 * replaced — whether it was shut down gracefully or killed with SIGKILL right after its last
 * acknowledged write (no shutdown hook, no checkpoint: only what was committed).
 */

const JSON_TYPE = 'application/json'
const TEXT_TYPE = 'text/plain'
const BINARY_TYPE = 'application/octet-stream'
/** Arbitrary binary payloads, the same every run. */
const random = seededRandom('persistence', 20_261_126)

const PATHS = {
  json: 'persist/json',
  jsonClosed: 'persist/json-closed',
  jsonFork: 'persist/json-fork',
  text: 'persist/text',
  binary: 'persist/binary',
  forkSource: 'persist/fork-source',
  fork: 'persist/fork',
  producerClosed: 'persist/producer-closed',
} as const
type StreamName = keyof typeof PATHS

/** What the seeding wrote and what the server acknowledged, to compare reads against. */
interface Fixture {
  messages: Partial<Record<StreamName, unknown[]>>
  bytes: Partial<Record<StreamName, Buffer>>
  /** Stream-Next-Offset of the last acknowledged write of each stream. */
  tail: Partial<Record<StreamName, string>>
  /** An offset acknowledged in the middle of each stream: old offsets must stay valid. */
  middle: Partial<Record<StreamName, string>>
  producerA: { id: string, epoch: number, seq: number, body: string }
  producerB: { id: string, epoch: number, seq: number, body: Buffer }
  expiresAt: string
}

async function expectStatus(pending: Promise<SimpleResponse>, status: number): Promise<SimpleResponse> {
  const response = await pending
  expect(response.status, `body: ${response.body.toString('utf8')}`).toBe(status)
  return response
}

function nextOffset(response: SimpleResponse): string {
  const offset = response.headers.get('stream-next-offset')
  expect(offset).toBeTruthy()
  return offset!
}

function producerHeaders(id: string, epoch: number, seq: number): Record<string, string> {
  return { 'producer-id': id, 'producer-epoch': String(epoch), 'producer-seq': String(seq) }
}

/** Builds one stream of every kind the persistence tests need, through the protocol only. */
async function seed(server: TestServer): Promise<Fixture> {
  const put = (path: string, headers: Record<string, string>, body?: string | Buffer) => call(server, 'PUT', path, { headers, body })
  const post = (path: string, headers: Record<string, string>, body?: string | Buffer) => call(server, 'POST', path, { headers, body })
  const fixture: Fixture = {
    messages: {},
    bytes: {},
    tail: {},
    middle: {},
    producerA: { id: 'writer-a', epoch: 3, seq: 2, body: '[{"p":"a","k":3}]' },
    producerB: { id: 'writer-b', epoch: 0, seq: 1, body: seededBytes(random, 10) },
    // Millisecond precision, so the round trip through HEAD can be compared exactly.
    expiresAt: new Date(Date.now() + 2 * 3600_000).toISOString(),
  }

  // JSON stream: batches, a single value, Stream-Seq, and a producer that starts at epoch 3.
  const json = { 'content-type': JSON_TYPE }
  await expectStatus(put(PATHS.json, json, '[{"n":0,"text":"first"}]'), 201)
  fixture.middle.json = nextOffset(await expectStatus(post(PATHS.json, { ...json, 'stream-seq': 'seq-0001' }, '[{"n":1},{"n":2},{"n":3}]'), 204))
  await expectStatus(post(PATHS.json, { ...json, 'stream-seq': 'seq-0002' }, '{"n":4,"text":"ünï – ✓ 🚀"}'), 204)
  await expectStatus(post(PATHS.json, { ...json, ...producerHeaders('writer-a', 3, 0) }, '[{"p":"a","k":0}]'), 200)
  await expectStatus(post(PATHS.json, { ...json, ...producerHeaders('writer-a', 3, 1) }, '[{"p":"a","k":1},{"p":"a","k":2}]'), 200)
  fixture.tail.json = nextOffset(await expectStatus(post(PATHS.json, { ...json, ...producerHeaders('writer-a', 3, 2) }, fixture.producerA.body), 200))
  fixture.messages.json = [
    { n: 0, text: 'first' }, { n: 1 }, { n: 2 }, { n: 3 }, { n: 4, text: 'ünï – ✓ 🚀' },
    { p: 'a', k: 0 }, { p: 'a', k: 1 }, { p: 'a', k: 2 }, { p: 'a', k: 3 },
  ]

  // A fork of the JSON stream at its middle offset, with data of its own.
  await expectStatus(put(PATHS.jsonFork, { ...json, 'stream-forked-from': STREAM_PREFIX + PATHS.json, 'stream-fork-offset': fixture.middle.json }), 201)
  fixture.tail.jsonFork = nextOffset(await expectStatus(post(PATHS.jsonFork, json, '[{"own":1},{"own":2}]'), 204))
  fixture.messages.jsonFork = [{ n: 0, text: 'first' }, { n: 1 }, { n: 2 }, { n: 3 }, { own: 1 }, { own: 2 }]

  // A JSON stream created closed with its whole content.
  fixture.tail.jsonClosed = nextOffset(await expectStatus(put(PATHS.jsonClosed, { ...json, 'stream-closed': 'true' }, '[{"only":true},[1,2]]'), 201))
  fixture.messages.jsonClosed = [{ only: true }, [1, 2]]

  // A text stream with a sliding TTL, closed by a final append.
  const text = { 'content-type': TEXT_TYPE }
  await expectStatus(put(PATHS.text, { ...text, 'stream-ttl': '3600' }, 'héllo wörld\n'), 201)
  fixture.middle.text = nextOffset(await expectStatus(post(PATHS.text, text, 'line 2 — ✓\n'), 204))
  const closing = await expectStatus(post(PATHS.text, { ...text, 'stream-closed': 'true' }, 'last line 🚀\n'), 204)
  expect(closing.headers.get('stream-closed')).toBe('true')
  fixture.tail.text = nextOffset(closing)
  fixture.bytes.text = Buffer.from('héllo wörld\nline 2 — ✓\nlast line 🚀\n')

  // A binary stream with an absolute expiry: every byte value, a large append, Stream-Seq, a producer.
  const binary = { 'content-type': BINARY_TYPE }
  const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  const large = seededBytes(random, 100_000)
  const first = seededBytes(random, 1_000)
  await expectStatus(put(PATHS.binary, { ...binary, 'stream-expires-at': fixture.expiresAt }), 201)
  fixture.middle.binary = nextOffset(await expectStatus(post(PATHS.binary, { ...binary, 'stream-seq': 'b-001' }, allBytes), 204))
  await expectStatus(post(PATHS.binary, { ...binary, 'stream-seq': 'b-002' }, large), 204)
  await expectStatus(post(PATHS.binary, { ...binary, ...producerHeaders('writer-b', 0, 0) }, first), 200)
  fixture.tail.binary = nextOffset(await expectStatus(post(PATHS.binary, { ...binary, ...producerHeaders('writer-b', 0, 1) }, fixture.producerB.body), 200))
  fixture.bytes.binary = Buffer.concat([allBytes, large, first, fixture.producerB.body])

  // A fork of a text stream, whose source is then deleted: the source is soft-deleted (410)
  // while the fork keeps reading the inherited data.
  await expectStatus(put(PATHS.forkSource, text, 'abc'), 201)
  const forkAt = nextOffset(await expectStatus(post(PATHS.forkSource, text, 'def'), 204))
  await expectStatus(post(PATHS.forkSource, text, 'ghi'), 204)
  await expectStatus(put(PATHS.fork, { 'stream-forked-from': STREAM_PREFIX + PATHS.forkSource, 'stream-fork-offset': forkAt }), 201)
  fixture.middle.fork = forkAt
  fixture.tail.fork = nextOffset(await expectStatus(post(PATHS.fork, text, 'XYZ'), 204))
  await expectStatus(post(PATHS.forkSource, text, 'jkl'), 204)
  await expectStatus(call(server, 'DELETE', PATHS.forkSource), 204)
  await expectStatus(call(server, 'GET', PATHS.forkSource, { query: '?offset=-1' }), 410)
  fixture.bytes.fork = Buffer.from('abcdefXYZ')

  // A JSON stream closed by an idempotent producer's final append (§5.2.1): a retry of that very
  // (id, epoch, seq) stays a duplicate success, anything else is refused as closed.
  await expectStatus(put(PATHS.producerClosed, json), 201)
  await expectStatus(post(PATHS.producerClosed, { ...json, ...producerHeaders('closer', 0, 0) }, '[{"c":0}]'), 200)
  const closedByProducer = await expectStatus(post(PATHS.producerClosed, { ...json, ...producerHeaders('closer', 0, 1), 'stream-closed': 'true' }, '[{"c":1}]'), 200)
  expect(closedByProducer.headers.get('stream-closed')).toBe('true')
  fixture.tail.producerClosed = nextOffset(closedByProducer)
  fixture.messages.producerClosed = [{ c: 0 }, { c: 1 }]

  return fixture
}

interface StreamSnapshot {
  head: Record<string, string | number | null>
  read: { status: number, contentType: string | null, nextOffset: string | null, closed: boolean, length: number, sha256: string }
  readFromMiddle?: StreamSnapshot['read']
}

function summarise(read: Awaited<ReturnType<typeof readAll>>): StreamSnapshot['read'] {
  return {
    status: read.status,
    contentType: read.contentType,
    nextOffset: read.nextOffset,
    closed: read.closed,
    length: read.body.length,
    sha256: createHash('sha256').update(read.body).digest('hex'),
  }
}

/** Everything observable about every stream; ETags are left out on purpose (they may change). */
async function snapshot(server: TestServer, fixture: Fixture): Promise<Record<StreamName, StreamSnapshot>> {
  const result = {} as Record<StreamName, StreamSnapshot>
  for (const name of Object.keys(PATHS) as StreamName[]) {
    const head = await call(server, 'HEAD', PATHS[name], { auth: false })
    const middle = fixture.middle[name]
    result[name] = {
      head: {
        status: head.status,
        contentType: head.headers.get('content-type'),
        nextOffset: head.headers.get('stream-next-offset'),
        closed: head.headers.get('stream-closed'),
        ttl: head.headers.get('stream-ttl'),
        expiresAt: head.headers.get('stream-expires-at'),
      },
      read: summarise(await readAll(server, PATHS[name])),
      ...(middle ? { readFromMiddle: summarise(await readAll(server, PATHS[name], middle)) } : {}),
    }
  }
  return result
}

const RESTARTS = [
  { kind: 'a graceful restart (SIGTERM)', restart: (server: TestServer) => server.restart() },
  {
    kind: 'a SIGKILL restart',
    restart: async (server: TestServer) => {
      await server.kill()
      await server.restart()
    },
  },
]

describe.each(RESTARTS)('after $kind', ({ restart }) => {
  let server: TestServer
  let fixture: Fixture
  let before: Record<StreamName, StreamSnapshot>
  let after: Record<StreamName, StreamSnapshot>
  /** Full reads right after the restart, before any test appends. */
  const reads = {} as Record<StreamName, Awaited<ReturnType<typeof readAll>>>
  let jsonFromMiddle: Awaited<ReturnType<typeof readAll>>

  beforeAll(async () => {
    server = await startServer()
    fixture = await seed(server)
    before = await snapshot(server, fixture)
    // The SIGKILL variant kills right after the snapshot's reads, so nothing but the commits
    // made while seeding can have reached the disk.
    await restart(server)
    after = await snapshot(server, fixture)
    for (const name of Object.keys(PATHS) as StreamName[]) reads[name] = await readAll(server, PATHS[name])
    jsonFromMiddle = await readAll(server, PATHS.json, fixture.middle.json)
  })

  afterAll(() => server?.stop())

  it('serves the same bytes and the same offsets as before', () => {
    expect(after).toEqual(before)
    // …and those are the data and offsets that were acknowledged, not merely a stable answer.
    for (const name of ['json', 'jsonClosed', 'jsonFork', 'producerClosed'] as const) {
      const read = reads[name]
      expect(read.messages, name).toEqual(fixture.messages[name])
      expect(read.nextOffset, name).toBe(fixture.tail[name])
    }
    for (const name of ['text', 'binary', 'fork'] as const) {
      const read = reads[name]
      expect(read.body.equals(fixture.bytes[name]!), `${name} bytes`).toBe(true)
      expect(read.nextOffset, name).toBe(fixture.tail[name])
      expect(after[name].head.nextOffset, name).toBe(fixture.tail[name])
    }
    // Offsets handed out mid-stream before the restart still address the same data.
    const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')
    expect(after.text.readFromMiddle!.sha256).toBe(sha('last line 🚀\n'))
    expect(after.fork.readFromMiddle!.sha256).toBe(sha('XYZ'))
    expect(after.binary.readFromMiddle!.sha256).toBe(sha(fixture.bytes.binary!.subarray(256)))
    expect(jsonFromMiddle.messages).toEqual(fixture.messages.json!.slice(4))
    expect(after.json.head.contentType).toBe(JSON_TYPE)
    expect(after.binary.head.contentType).toBe(BINARY_TYPE)
  })

  it('keeps closed streams closed', async () => {
    for (const [name, contentType, body] of [['text', TEXT_TYPE, 'more'], ['jsonClosed', JSON_TYPE, '[{"more":true}]']] as const) {
      const refused = await expectStatus(call(server, 'POST', PATHS[name], { headers: { 'content-type': contentType }, body }), 409)
      expect(refused.headers.get('stream-closed'), name).toBe('true')
      expect(refused.headers.get('stream-next-offset'), name).toBe(fixture.tail[name])
      expect(after[name].head.closed, name).toBe('true')
      expect(after[name].read.closed, name).toBe(true)
    }
    // Closing again is idempotent; re-creating with another closure status is a config conflict.
    const closeAgain = await expectStatus(call(server, 'POST', PATHS.text, { headers: { 'stream-closed': 'true' } }), 204)
    expect(closeAgain.headers.get('stream-closed')).toBe('true')
    await expectStatus(call(server, 'PUT', PATHS.text, { headers: { 'content-type': TEXT_TYPE, 'stream-ttl': '3600' } }), 409)
    await expectStatus(call(server, 'PUT', PATHS.text, { headers: { 'content-type': TEXT_TYPE, 'stream-ttl': '3600', 'stream-closed': 'true' } }), 200)
    const text = await readAll(server, PATHS.text)
    expect(text.body.equals(fixture.bytes.text!)).toBe(true)
    expect(text.nextOffset).toBe(fixture.tail.text)

    // The producer that closed a stream: its closing request is still recognised as a duplicate…
    const json = { 'content-type': JSON_TYPE }
    const closingRetry = await expectStatus(call(server, 'POST', PATHS.producerClosed, {
      headers: { ...json, ...producerHeaders('closer', 0, 1), 'stream-closed': 'true' },
      body: '[{"c":1}]',
    }), 204)
    expect(closingRetry.headers.get('stream-closed')).toBe('true')
    // …but a retry of one of its earlier appends is not the closing request: 409 (§5.2.1)…
    const earlier = await expectStatus(call(server, 'POST', PATHS.producerClosed, {
      headers: { ...json, ...producerHeaders('closer', 0, 0) },
      body: '[{"c":0}]',
    }), 409)
    expect(earlier.headers.get('stream-closed')).toBe('true')
    // …and its next sequence number finds the stream closed.
    const next = await expectStatus(call(server, 'POST', PATHS.producerClosed, {
      headers: { ...json, ...producerHeaders('closer', 0, 2) },
      body: '[{"c":2}]',
    }), 409)
    expect(next.headers.get('stream-closed')).toBe('true')
    const closedStream = await readAll(server, PATHS.producerClosed)
    expect(closedStream.messages).toEqual(fixture.messages.producerClosed)
    expect(closedStream.closed).toBe(true)
  })

  it('keeps idempotent producer state', async () => {
    const { producerA: a, producerB: b } = fixture
    const json = { 'content-type': JSON_TYPE }
    const unchanged = await readAll(server, PATHS.json)

    // A retry of the last (id, epoch, seq) is recognised as a duplicate and appends nothing.
    const retry = await expectStatus(call(server, 'POST', PATHS.json, { headers: { ...json, ...producerHeaders(a.id, a.epoch, a.seq) }, body: a.body }), 204)
    expect(retry.headers.get('producer-epoch')).toBe(String(a.epoch))
    expect(retry.headers.get('producer-seq')).toBe(String(a.seq))
    // The epoch is fenced: an older one is refused and told the current epoch.
    const stale = await expectStatus(call(server, 'POST', PATHS.json, { headers: { ...json, ...producerHeaders(a.id, a.epoch - 1, 0) }, body: '[{"zombie":true}]' }), 403)
    expect(stale.headers.get('producer-epoch')).toBe(String(a.epoch))
    // The sequence is remembered: skipping one is a gap.
    const gap = await expectStatus(call(server, 'POST', PATHS.json, { headers: { ...json, ...producerHeaders(a.id, a.epoch, a.seq + 2) }, body: '[{"gap":true}]' }), 409)
    expect(gap.headers.get('producer-expected-seq')).toBe(String(a.seq + 1))
    expect(await readAll(server, PATHS.json)).toEqual(unchanged)

    // The next sequence number is new data.
    const accepted = await expectStatus(call(server, 'POST', PATHS.json, { headers: { ...json, ...producerHeaders(a.id, a.epoch, a.seq + 1) }, body: '[{"p":"a","k":4}]' }), 200)
    expect(accepted.headers.get('producer-seq')).toBe(String(a.seq + 1))
    const grown = await readAll(server, PATHS.json)
    expect(grown.messages).toEqual([...unchanged.messages, { p: 'a', k: 4 }])

    // The same on a binary stream.
    const binary = { 'content-type': BINARY_TYPE }
    const binaryBefore = await readAll(server, PATHS.binary)
    await expectStatus(call(server, 'POST', PATHS.binary, { headers: { ...binary, ...producerHeaders(b.id, b.epoch, b.seq) }, body: b.body }), 204)
    expect(await readAll(server, PATHS.binary)).toEqual(binaryBefore)
    await expectStatus(call(server, 'POST', PATHS.binary, { headers: { ...binary, ...producerHeaders(b.id, b.epoch, b.seq + 1) }, body: 'tail' }), 200)
    const binaryAfter = await readAll(server, PATHS.binary)
    expect(binaryAfter.body.equals(Buffer.concat([binaryBefore.body, Buffer.from('tail')]))).toBe(true)
  })

  it('keeps Stream-Seq state', async () => {
    for (const [name, contentType, lower, last, higher, body] of [
      ['json', JSON_TYPE, 'seq-0001', 'seq-0002', 'seq-0003', '{"seq":3}'],
      ['binary', BINARY_TYPE, 'b-001', 'b-002', 'b-003', 'seq bytes'],
    ] as const) {
      const unchanged = await readAll(server, PATHS[name])
      await expectStatus(call(server, 'POST', PATHS[name], { headers: { 'content-type': contentType, 'stream-seq': lower }, body }), 409)
      await expectStatus(call(server, 'POST', PATHS[name], { headers: { 'content-type': contentType, 'stream-seq': last }, body }), 409)
      expect(await readAll(server, PATHS[name]), name).toEqual(unchanged)
      await expectStatus(call(server, 'POST', PATHS[name], { headers: { 'content-type': contentType, 'stream-seq': higher }, body }), 204)
      expect((await readAll(server, PATHS[name])).body.length, name).toBeGreaterThan(unchanged.body.length)
    }
  })

  it('keeps forks, and the soft-deleted source stays gone', async () => {
    expect(after.forkSource.head.status).toBe(410)
    expect(after.forkSource.read.status).toBe(410)
    await expectStatus(call(server, 'GET', PATHS.forkSource, { query: '?offset=-1' }), 410)
    await expectStatus(call(server, 'POST', PATHS.forkSource, { headers: { 'content-type': TEXT_TYPE }, body: 'x' }), 410)
    await expectStatus(call(server, 'DELETE', PATHS.forkSource), 410)
    // The path stays blocked while the fork lives.
    await expectStatus(call(server, 'PUT', PATHS.forkSource, { headers: { 'content-type': TEXT_TYPE } }), 409)

    // The fork reads the inherited data followed by its own, and still accepts appends.
    expect((await readAll(server, PATHS.fork)).body.toString('utf8')).toBe('abcdefXYZ')
    expect((await readAll(server, PATHS.fork, fixture.middle.fork)).body.toString('utf8')).toBe('XYZ')
    await expectStatus(call(server, 'POST', PATHS.fork, { headers: { 'content-type': TEXT_TYPE }, body: '!' }), 204)
    expect((await readAll(server, PATHS.fork)).body.toString('utf8')).toBe('abcdefXYZ!')

    const jsonFork = await readAll(server, PATHS.jsonFork)
    expect(jsonFork.messages).toEqual(fixture.messages.jsonFork)

    // Deleting the last fork releases the soft-deleted source: it goes away (§4.2 allows the
    // cleanup to be asynchronous, hence the polling) and its path can be used again.
    await expectStatus(call(server, 'DELETE', PATHS.fork), 204)
    expect(await headStatus(server, PATHS.fork)).toBe(404)
    const deadline = Date.now() + 10_000
    while (await headStatus(server, PATHS.forkSource) !== 404 && Date.now() < deadline)
      await new Promise(resolve => setTimeout(resolve, 50))
    expect(await headStatus(server, PATHS.forkSource)).toBe(404)
    await expectStatus(call(server, 'PUT', PATHS.forkSource, { headers: { 'content-type': TEXT_TYPE }, body: 'new' }), 201)
    expect((await readAll(server, PATHS.forkSource)).body.toString('utf8')).toBe('new')
  })

  it('keeps TTL and Expires-At metadata', () => {
    expect(after.text.head.ttl).toBe('3600')
    expect(after.text.head.expiresAt).toBeNull()
    expect(after.binary.head.ttl).toBeNull()
    expect(after.binary.head.expiresAt).not.toBeNull()
    expect(Date.parse(String(after.binary.head.expiresAt))).toBe(Date.parse(fixture.expiresAt))
    expect(after.json.head.ttl).toBeNull()
    expect(after.json.head.expiresAt).toBeNull()
  })
})
