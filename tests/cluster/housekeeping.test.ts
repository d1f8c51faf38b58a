import { beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import { useCluster } from '../support/cluster'
import { withDatabase } from '../support/postgres'
import type { TestServer } from '../support/server'
import { DAY_MS, SESSION_TEST_ENV, api, createSession, publish, sleep } from '../support/sessions'
import { call, headStatus, readAll } from '../support/streams'

/**
 * Housekeeping with two instances on one PostgreSQL database doing it at the same time:
 * retention (an advisory lock makes the passes take turns) and TTL expiry (every removal is
 * decided again on the locked rows). Nothing is deleted twice, and nothing that should stay goes.
 */

const cluster = useCluster(2, { env: SESSION_TEST_ENV })
let a: TestServer
let b: TestServer
beforeAll(() => {
  ;[a, b] = cluster.servers as [TestServer, TestServer]
})

const chunk = (session: CreatedSession, text: string) => ({ channel: 'chunks', data: { agentId: session.agentId, text } })

function retention(server: TestServer, now: number) {
  return api<{ deletedSessions: number, trimmedStreams: number }>(server, 'POST', '/api/admin/retention', { json: { now }, headers: { authorization: `Bearer ${cluster.current.token}` } })
}

describe('retention on both instances at once', () => {
  it('deletes each idle session once, trims each stream once, and keeps the active ones whole after the cut', async () => {
    const idle = await Promise.all([0, 1, 2].map(i => createSession(i % 2 ? a : b, { title: `idle ${i}` })))
    const active = await Promise.all([0, 1, 2].map(i => createSession(i % 2 ? b : a, { title: `active ${i}` })))
    for (const session of [...idle, ...active]) await publish(a, session, chunk(session, 'before the cut'))
    await sleep(50)
    const cut = Date.now()
    await sleep(50)
    for (const session of active) await publish(b, session, chunk(session, 'after the cut'))

    const runs = await Promise.all([a, b, a, b].map(server => retention(server, cut + 30 * DAY_MS)))
    for (const run of runs) expect(run.status).toBe(200)
    expect(runs.reduce((sum, run) => sum + run.body.deletedSessions, 0), 'idle sessions deleted, once each').toBe(3)
    // Each active session's stream and all six agents' streams lose their first event, once.
    expect(runs.reduce((sum, run) => sum + run.body.trimmedStreams, 0), 'streams trimmed, once each').toBe(9)

    for (const session of idle) {
      expect((await api(b, 'GET', `/api/sessions/${session.id}`)).status).toBe(404)
      expect(await headStatus(a, `sessions/${session.id}`)).toBe(404)
    }
    for (const session of active) {
      expect((await api(a, 'GET', `/api/sessions/${session.id}`)).status).toBe(200)
      const kept = (await readAll(b, `sessions/${session.id}`)).messages as Array<{ value: { text: string } }>
      expect(kept.map(message => message.value.text)).toEqual(['after the cut'])
    }
    for (const server of [a, b]) expect(server.log).not.toMatch(/request failed|housekeeping failed/)
  })
})

describe('TTL expiry on both instances at once', () => {
  it('removes each expired stream once (a source forks still read is hidden, not deleted) and keeps the rest', async () => {
    const json = { 'content-type': 'application/json' }
    const expiring = Array.from({ length: 8 }, (_, i) => `ttl/expiring-${i}`)
    for (const path of expiring) expect((await call(a, 'PUT', path, { headers: { ...json, 'stream-ttl': '1' }, body: '[{"n":1},{"n":2}]' })).status).toBe(201)
    // A source that expires while a fork (with its own TTL) still reads it.
    expect((await call(a, 'PUT', 'ttl/source', { headers: { ...json, 'stream-ttl': '1' }, body: '[{"n":0}]' })).status).toBe(201)
    expect((await call(b, 'PUT', 'ttl/fork', { headers: { 'stream-forked-from': '/v1/stream/ttl/source', 'stream-ttl': '3600' } })).status).toBe(201)
    expect((await call(b, 'PUT', 'ttl/lasting', { headers: { ...json, 'stream-ttl': '3600' }, body: '[{"n":1}]' })).status).toBe(201)
    await sleep(1_500)

    // Both instances sweep at start, at the same time.
    await Promise.all([a.restart(), b.restart()])
    // Whatever a sweep left, readers on both instances find expired at once.
    const statuses = await Promise.all([...expiring, 'ttl/source'].flatMap(path => [a, b].map(server => headStatus(server, path))))
    expect(new Set(statuses.slice(0, -2))).toEqual(new Set([404]))
    expect(statuses.slice(-2)).toEqual([410, 410])
    expect((await readAll(a, 'ttl/fork')).messages).toEqual([{ n: 0 }])
    expect(await headStatus(b, 'ttl/lasting')).toBe(200)

    await withDatabase(cluster.current.databaseUrl, async (sql) => {
      const rows = await sql<Array<{ path: string, refCount: number, softDeleted: boolean }>>`
        select path, ref_count as "refCount", soft_deleted as "softDeleted" from streams where path like 'ttl/%' order by path`
      expect(rows).toEqual([
        { path: 'ttl/fork', refCount: 0, softDeleted: false },
        { path: 'ttl/lasting', refCount: 0, softDeleted: false },
        { path: 'ttl/source', refCount: 1, softDeleted: true },
      ])
      const [orphans] = await sql<Array<{ n: number }>>`select count(*)::int as n from messages where stream_id not in (select id from streams)`
      expect(orphans!.n, 'no data left of a deleted stream').toBe(0)
    })
    for (const server of [a, b]) expect(server.log).not.toMatch(/sweep failed|request failed/)
  })
})
