import { request as httpRequest } from 'node:http'
import type { ClientRequest, IncomingHttpHeaders } from 'node:http'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import { connectInspector } from '../support/inspector'
import type { Inspector } from '../support/inspector'
import type { TestServer } from '../support/server'
import { as, createSession, eventually, postPresence, startSessionServer } from '../support/sessions'
import { call, streamUrl } from '../support/streams'

/**
 * What one client may hold open, and who "one client" is behind proxies: live reads (SSE and
 * long-poll together) capped per client address (429) and in total (503); demo runs likewise;
 * the client address is the rightmost X-Forwarded-For entry our own proxies did not add, IPv6
 * counted per /64, IPv4-mapped IPv6 as IPv4. Whatever a client writes into X-Forwarded-For
 * itself makes it no other client.
 *
 * Every request here arrives as from behind two proxies of ours (NUXT_DURABLE_SESSIONS_TRUST_PROXY=2): the
 * socket is the second proxy, the last header entry the first one's, and the entry left of it
 * is the client.
 *
 * And a reader that stops reading is not a way to pin the server's memory: once dropped, what
 * was queued for it is freed.
 */

const PROXY = '10.255.0.1'
const PER_CLIENT = 3

let server: TestServer

/** A server behind two proxies, with small caps; `env` on top. */
async function startLimited(env: Record<string, string> = {}): Promise<TestServer> {
  const started = await startSessionServer({
    env: {
      NUXT_DURABLE_SESSIONS_TRUST_PROXY: '2',
      NUXT_DURABLE_SESSIONS_STREAMS_MAX_LIVE_READS_PER_CLIENT: String(PER_CLIENT),
      NUXT_DURABLE_SESSIONS_STREAMS_LONG_POLL_TIMEOUT_MS: '60000',
      NUXT_DURABLE_SESSIONS_DEMO_MAX_RUNS_PER_CLIENT: '2',
      NUXT_DURABLE_SESSIONS_DEMO_MAX_RUNS: '3',
      // Viewer writes: two, then one every 100 s.
      NUXT_DURABLE_SESSIONS_RATE_LIMIT_PER_SECOND: '0.01',
      NUXT_DURABLE_SESSIONS_RATE_LIMIT_BURST: '2',
      ...env,
    },
  })
  expect((await call(started, 'PUT', 'limits/live', { headers: { 'content-type': 'application/json' } })).status).toBe(201)
  return started
}

beforeAll(async () => {
  server = await startLimited()
})
afterAll(() => server?.stop())

/** Headers of a request from `client` through our two proxies; `spoofed` is what the client wrote itself. */
function from(client: string, spoofed?: string): Record<string, string> {
  return { 'x-forwarded-for': [spoofed, client, PROXY].filter(Boolean).join(', ') }
}

interface Live {
  /** The answer's status and headers, once it starts (an SSE 200 right away; a long-poll only when it ends). */
  answer: Promise<{ status: number, headers: IncomingHttpHeaders, body: string }>
  close: () => void
}

/**
 * A live read that resolves once the server has taken it in hand — its `100 Continue` says so —
 * and from then on holds its slot until closed (or refused).
 */
async function openLive(mode: 'sse' | 'long-poll', headers: Record<string, string>, target = server): Promise<Live> {
  let request!: ClientRequest
  const taken = new Promise<void>((resolve) => {
    request = httpRequest(`${streamUrl(target, 'limits/live')}?offset=now&live=${mode}`, { agent: false, headers: { ...headers, expect: '100-continue' } })
    request.once('continue', resolve)
  })
  const answer = new Promise<{ status: number, headers: IncomingHttpHeaders, body: string }>((resolve, reject) => {
    request.on('response', (response) => {
      let body = ''
      response.setEncoding('utf8')
      // A refusal is read to its end; an SSE stream answers as soon as it starts.
      if (response.statusCode !== 200) {
        response.on('data', (chunk: string) => { body += chunk })
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }))
      }
      else {
        resolve({ status: 200, headers: response.headers, body })
      }
    })
    request.on('error', reject)
  })
  answer.catch(() => undefined)
  request.end()
  await taken
  return { answer, close: () => request.destroy() }
}

function expectRefused(answer: { status: number, headers: IncomingHttpHeaders, body: string }, status: number, limit: RegExp): void {
  expect(answer.status).toBe(status)
  expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1)
  expect(answer.headers['content-type']).toMatch(/^application\/json/)
  expect(JSON.parse(answer.body).message).toMatch(limit)
}

describe('live reads', () => {
  const TOTAL = 5
  let full: TestServer

  beforeAll(async () => {
    full = await startLimited({ NUXT_DURABLE_SESSIONS_STREAMS_MAX_LIVE_READS: String(TOTAL) })
  })
  afterAll(() => full?.stop())

  it('count SSE and long-poll together against a cap per client (429) and one for the server (503)', async () => {
    const open = (mode: 'sse' | 'long-poll', client: string) => openLive(mode, from(client), full)
    const held: Live[] = []
    try {
      // One client: two SSE readers and a long-poll, then nothing more of either kind.
      for (const mode of ['sse', 'sse', 'long-poll'] as const) held.push(await open(mode, '203.0.113.1'))
      expect((await held[0]!.answer).status).toBe(200)
      for (const mode of ['sse', 'long-poll'] as const)
        expectRefused(await (await open(mode, '203.0.113.1')).answer, 429, /NUXT_DURABLE_SESSIONS_STREAMS_MAX_LIVE_READS_PER_CLIENT/)
      // Catch-up reads are not live reads: never refused.
      expect((await call(full, 'GET', 'limits/live', { query: '?offset=-1', headers: from('203.0.113.1') })).status).toBe(200)

      // Others: two more fill the server; the next client is refused with 503.
      held.push(await open('sse', '203.0.113.2'), await open('long-poll', '203.0.113.3'))
      expectRefused(await (await open('sse', '203.0.113.4')).answer, 503, /NUXT_DURABLE_SESSIONS_STREAMS_MAX_LIVE_READS\b/)

      // A reader that leaves frees its slot.
      held.shift()!.close()
      const again = await eventually(async () => {
        const live = await open('sse', '203.0.113.4')
        if ((await live.answer).status === 200) return live
        live.close()
        return undefined
      }, 'a slot is free again')
      held.push(again)
    }
    finally {
      for (const live of held) live.close()
    }
  })
})

describe('the client address', () => {
  it('is the rightmost entry our proxies did not add: what a client writes into X-Forwarded-For makes it no other client', async () => {
    const held: Live[] = []
    try {
      for (const spoofed of ['198.51.100.1', '198.51.100.2', 'not an address'])
        held.push(await openLive('sse', from('203.0.113.10', spoofed)))
      expectRefused(await (await openLive('sse', from('203.0.113.10', '198.51.100.3, 198.51.100.4'))).answer, 429, /PER_CLIENT/)
      // The same address written as IPv4-mapped IPv6 is the same client.
      expectRefused(await (await openLive('sse', from('::ffff:203.0.113.10'))).answer, 429, /PER_CLIENT/)
    }
    finally {
      for (const live of held.splice(0)) live.close()
    }
  })

  it('counts an IPv6 client by its /64', async () => {
    const held: Live[] = []
    try {
      for (const address of ['2001:db8:1:2::a', '2001:db8:1:2::b', '2001:db8:1:2:ffff:ffff:ffff:ffff'])
        held.push(await openLive('sse', from(address)))
      expectRefused(await (await openLive('sse', from('2001:db8:1:2:abcd::1'))).answer, 429, /PER_CLIENT/)
      // The next /64 is another client.
      const neighbour = await openLive('sse', from('2001:db8:1:3::a'))
      held.push(neighbour)
      expect((await neighbour.answer).status).toBe(200)
    }
    finally {
      for (const live of held.splice(0)) live.close()
    }
  })

  it('is what the write rate limit counts too', async () => {
    const session = await createSession(server)
    const presence = (n: number, headers: Record<string, string>) => postPresence(server, session, { userId: `u${n}`, action: 'join' }, headers)
    expect((await presence(1, from('203.0.113.20', '198.51.100.1'))).status).toBe(200)
    expect((await presence(2, from('203.0.113.20', '198.51.100.2'))).status).toBe(200)
    const limited = await presence(3, from('203.0.113.20', '198.51.100.3'))
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect((await presence(4, from('203.0.113.21', '203.0.113.20'))).status).toBe(200)
  })
})

describe('demo runs', () => {
  it('are capped per client (429) and for the server (503), and a finished run frees its slot', async () => {
    const sessions: CreatedSession[] = []
    for (let n = 0; n < 4; n++) sessions.push(await createSession(server, { title: `demo ${n}` }))
    // Slow demos: they run until their session closes.
    const start = (session: CreatedSession, client: string) =>
      fetch(`${server.url}/api/sessions/${session.id}/demo`, {
        method: 'POST',
        headers: { ...as('agent', session, server), ...from(client), 'content-type': 'application/json' },
        body: JSON.stringify({ speed: 0.1 }),
      })
    const refused = async (response: Response, status: number, limit: RegExp) => {
      expect(response.status).toBe(status)
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect((await response.json()).message).toMatch(limit)
    }
    expect((await start(sessions[0]!, '203.0.113.30')).status).toBe(202)
    expect((await start(sessions[1]!, '203.0.113.30')).status).toBe(202)
    await refused(await start(sessions[2]!, '203.0.113.30'), 429, /NUXT_DURABLE_SESSIONS_DEMO_MAX_RUNS_PER_CLIENT/)
    expect((await start(sessions[2]!, '203.0.113.31')).status).toBe(202)
    await refused(await start(sessions[3]!, '203.0.113.32'), 503, /NUXT_DURABLE_SESSIONS_DEMO_MAX_RUNS\b/)

    // Closing a session ends its demo, which frees the slot.
    expect((await fetch(`${server.url}/api/sessions/${sessions[0]!.id}/close`, { method: 'POST', headers: as('agent', sessions[0]!, server) })).status).toBe(200)
    await eventually(async () => ((await start(sessions[3]!, '203.0.113.32')).status === 202 ? true : undefined), 'the closed session\'s demo slot is free')
    for (const session of sessions.slice(1))
      await fetch(`${server.url}/api/sessions/${session.id}/close`, { method: 'POST', headers: as('agent', session, server) })
  })
})

describe('a stalled SSE reader', () => {
  const PAGE_BYTES = 16 * 1024 * 1024
  const READERS = 4
  let stalled: TestServer
  let inspector: Inspector

  beforeAll(async () => {
    stalled = await startSessionServer({
      env: {
        // Readers are dropped after 1 s; every catch-up page is 16 MiB, far more than the kernel's
        // socket buffers take, so a reader that does not read leaves most of a page queued in the server.
        NUXT_DURABLE_SESSIONS_STREAMS_SSE_MAX_SECONDS: '1',
        NUXT_DURABLE_SESSIONS_STREAMS_READ_CHUNK_BYTES: String(PAGE_BYTES),
        NUXT_DURABLE_SESSIONS_STREAMS_MAX_APPEND_BYTES: String(PAGE_BYTES),
        NODE_OPTIONS: '--inspect=127.0.0.1:0',
      },
    })
    inspector = await connectInspector(() => stalled.log)
  })
  afterAll(async () => {
    inspector?.close()
    await stalled?.stop()
  })

  it('has everything queued for it freed once it is dropped', { timeout: 60_000 }, async () => {
    const text = { 'content-type': 'text/plain' }
    expect((await call(stalled, 'PUT', 'limits/big', { headers: text })).status).toBe(201)
    for (let n = 0; n < 3; n++) expect((await call(stalled, 'POST', 'limits/big', { headers: text, body: `${String(n).repeat(PAGE_BYTES - 1)}\n` })).status).toBe(204)
    const held = async () => {
      // Strings on V8's heap, Buffers (queued writes among them) outside it.
      const memory = await inspector.memoryAfterGc()
      return memory.heapUsed + memory.arrayBuffers
    }
    const before = await held()

    // Readers that ask for the whole stream and then never read a byte.
    const sockets = await Promise.all(Array.from({ length: READERS }, () => new Promise<Socket>((resolve) => {
      const socket = connect(Number(new URL(stalled.url).port), '127.0.0.1', () => {
        socket.write(`GET /v1/stream/limits/big?offset=-1&live=sse HTTP/1.1\r\nHost: x\r\n\r\n`)
        resolve(socket)
      })
      socket.pause()
    })))
    try {
      const MiB = 1024 * 1024
      const queued = await eventually(async () => {
        const now = await held()
        return now - before > READERS * 4 * MiB ? now : undefined
      }, 'pages are queued for the stalled readers', 20_000)
      // Past their maximum age they are dropped, and what was queued for them goes with them.
      const freed = await eventually(async () => {
        const now = await held()
        return now - before < 4 * MiB ? now : undefined
      }, 'the stalled readers\' pages are freed', 30_000)
      console.info(`[limits] ${READERS} stalled SSE readers: ${((queued - before) / MiB).toFixed(0)} MiB queued, ${((freed - before) / MiB).toFixed(1)} MiB left after they were dropped`)
    }
    finally {
      for (const socket of sockets) socket.destroy()
    }
  })
})
