import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useCluster } from '../support/cluster'
import { StreamFollower } from '../support/follow'
import type { FollowMode } from '../support/follow'
import { withDatabase } from '../support/postgres'
import type { TestServer } from '../support/server'
import { call, readAll, streamUrl } from '../support/streams'

/**
 * Two instances of the built server on one PostgreSQL database. A commit on either wakes the
 * live readers of the other (LISTEN/NOTIFY), offsets and producer state are one, and an instance
 * that loses its notification connection reconnects and lets its readers catch up.
 * Long-polls and SSE connections here last a minute, so that a reader that missed a
 * notification cannot be rescued by its own timeout within the test's time.
 */

const JSON_TYPE = { 'content-type': 'application/json' }
const cluster = useCluster(2, { env: { NUXT_DURABLE_SESSIONS_SEED_DEMO: 'false', NUXT_DURABLE_SESSIONS_STREAMS_LONG_POLL_TIMEOUT_MS: '60000', NUXT_DURABLE_SESSIONS_STREAMS_SSE_MAX_SECONDS: '120' } })
let a: TestServer
let b: TestServer
const followers: StreamFollower[] = []
beforeAll(() => {
  ;[a, b] = cluster.servers as [TestServer, TestServer]
})
afterAll(() => {
  for (const follower of followers) follower.stop()
})

function follow(server: TestServer, path: string, mode: FollowMode): { follower: StreamFollower, received: unknown[] } {
  const received: unknown[] = []
  const follower = new StreamFollower(streamUrl(server, path), { mode, offset: '-1', retryDelayMs: 50, onBatch: items => received.push(...items) }).start()
  followers.push(follower)
  return { follower, received }
}

async function append(server: TestServer, path: string, body: unknown): Promise<string> {
  const response = await call(server, 'POST', path, { headers: JSON_TYPE, body: JSON.stringify(body) })
  expect(response.status, `POST ${path} on ${server.url}`).toBe(204)
  return response.headers.get('stream-next-offset')!
}

describe('a commit on one instance', () => {
  it('reaches SSE and long-poll readers on the other at once, small and large (read from the database)', async () => {
    const path = 'cluster/live'
    expect((await call(a, 'PUT', path, { headers: JSON_TYPE })).status).toBe(201)
    const sse = follow(b, path, 'sse')
    const longPoll = follow(b, path, 'long-poll')
    await sse.follower.until(() => sse.follower.controls > 0, 'the SSE reader on B is live')
    const sent = [{ n: 1 }, { n: 2, big: 'x'.repeat(20_000) }, { n: 3 }]
    let tail = ''
    for (const message of sent) tail = await append(a, path, message)
    await sse.follower.until(() => sse.follower.offset === tail, 'the SSE reader on B has everything', 10_000)
    await longPoll.follower.until(() => longPoll.follower.offset === tail, 'the long-poll reader on B has everything', 10_000)
    expect(sse.received).toEqual(sent)
    expect(longPoll.received).toEqual(sent)
  })

  it('shares one sequence of offsets and one producer state with the other', async () => {
    const path = 'cluster/shared'
    expect((await call(b, 'PUT', path, { headers: JSON_TYPE })).status).toBe(201)
    const writes = Array.from({ length: 30 }, (_, n) => call(n % 2 ? a : b, 'POST', path, { headers: JSON_TYPE, body: JSON.stringify({ n }) }))
    const offsets = (await Promise.all(writes)).map(response => response.headers.get('stream-next-offset'))
    expect(new Set(offsets).size).toBe(30)
    // One producer request arriving at both instances at once is stored once.
    const producer = { ...JSON_TYPE, 'producer-id': 'both', 'producer-epoch': '0', 'producer-seq': '0' }
    const statuses = (await Promise.all([a, b].map(server => call(server, 'POST', path, { headers: producer, body: '{"once":true}' })))).map(response => response.status)
    expect(statuses.sort()).toEqual([200, 204])
    const all = await readAll(a, path)
    expect(all.messages).toHaveLength(31)
    expect((await readAll(b, path)).body.equals(all.body)).toBe(true)
  })
})

describe('an instance that loses its notification connection', () => {
  it('reconnects and lets its readers catch up on what was committed meanwhile (pg_terminate_backend)', async () => {
    const path = 'cluster/reconnect'
    expect((await call(a, 'PUT', path, { headers: JSON_TYPE })).status).toBe(201)
    const sse = follow(b, path, 'sse')
    const longPoll = follow(b, path, 'long-poll')
    await sse.follower.until(() => sse.follower.controls > 0, 'the SSE reader on B is live')
    await append(a, path, { before: true })
    await sse.follower.until(() => sse.received.length === 1, 'B\'s SSE reader hears of commits before the loss')
    // …and its long-poll reader has already asked again: it waits at the tail.
    await longPoll.follower.until(() => longPoll.received.length === 1, 'B\'s long-poll reader hears of commits before the loss')
    const database = new URL(cluster.current.databaseUrl).pathname.slice(1)
    const listenerOf = (server: TestServer) => `durable-sessions listen ${server.pid} %`
    await withDatabase(cluster.current.databaseUrl.replace(/\/[^/]+$/, '/postgres'), async (admin) => {
      // B cannot reconnect while this lasts, so what A commits now cannot reach B by NOTIFY.
      await admin.unsafe(`alter database ${database} allow_connections false`)
      try {
        const [killed] = await admin`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where application_name like ${listenerOf(b)}`
        expect(killed!.n).toBe(1)
        await expect.poll(async () => (await admin`select count(*)::int as n from pg_stat_activity where application_name like ${listenerOf(b)}`)[0]!.n).toBe(0)
        await append(a, path, { during: 1 })
        await append(a, path, { during: 2 })
        await new Promise(resolve => setTimeout(resolve, 300))
        expect(sse.received, 'nothing reached B while it listened to nobody').toHaveLength(1)
      }
      finally {
        await admin.unsafe(`alter database ${database} allow_connections true`)
      }
      await expect.poll(async () => (await admin`select count(*)::int as n from pg_stat_activity where application_name like ${listenerOf(b)}`)[0]!.n, { timeout: 10_000 }).toBe(1)
    })
    const tail = (await readAll(a, path)).nextOffset
    await sse.follower.until(() => sse.follower.offset === tail, 'the SSE reader on B caught up after the reconnect', 10_000)
    await longPoll.follower.until(() => longPoll.follower.offset === tail, 'the long-poll reader on B caught up after the reconnect', 10_000)
    expect(sse.received).toEqual([{ before: true }, { during: 1 }, { during: 2 }])
    expect(longPoll.received).toEqual([{ before: true }, { during: 1 }, { during: 2 }])
    expect(sse.follower.failures).toEqual([])
    expect(longPoll.follower.failures).toEqual([])
  })
})
