import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import { StreamFollower } from '../support/follow'
import { holdWriteLock, integrityCheck, limitFileSize, mountTinyDisk, readDatabase } from '../support/faults'
import type { TinyDisk } from '../support/faults'
import type { TestServer } from '../support/server'
import { api, as, createSession, publish, snapshot, startSessionServer, streamMessages } from '../support/sessions'
import type { ApiResponse } from '../support/sessions'
import { call, readAll, streamUrl } from '../support/streams'

/**
 * Storage faults made for real, from outside the server: SQLite's write lock held by another
 * process (busy), and a disk with no space left. Either way a write answers 503 with
 * Retry-After and leaves nothing half-written — no data without its producer state, no session
 * event without its agent-stream copy or idempotency key, no stream without its session — and
 * the same request succeeds, once, when retried after the fault is gone.
 */

const servers: TestServer[] = []
afterAll(async () => {
  for (const server of servers) await server.stop()
})

const JSON_TYPE = { 'content-type': 'application/json' }

function producerPost(server: TestServer, path: string, seq: number, body: string) {
  return call(server, 'POST', path, { headers: { ...JSON_TYPE, 'producer-id': 'p', 'producer-epoch': '0', 'producer-seq': String(seq) }, body })
}

function expectUnavailable(response: { status: number, headers: Headers }, label: string): void {
  expect(response.status, label).toBe(503)
  expect(Number(response.headers.get('retry-after')), `${label}: Retry-After`).toBeGreaterThanOrEqual(1)
}

/** Everything a half-done write could leave a trace in. */
async function state(server: TestServer, session: CreatedSession, path: string) {
  return {
    stream: (await readAll(server, path)).body.toString(),
    session: await streamMessages(server, `sessions/${session.id}`),
    agent: await streamMessages(server, `agents/${session.agentId}`),
    presence: await streamMessages(server, `sessions/${session.id}/presence`),
    snapshot: { ...(await snapshot(server, session.id)), session: undefined },
    keys: readDatabase(server.dataDir, db => db.prepare('select count(*) as n from idempotency_keys').get()),
    ...sessionsAndStreams(server),
  }
}

/**
 * Sessions and their streams, from the file: each session has its stream and presence stream,
 * and no `sessions/<id>` stream is left without its session (a creation that failed half-way).
 */
function sessionsAndStreams(server: TestServer) {
  return readDatabase(server.dataDir, (db) => {
    const sessions = (db.prepare('select id from sessions order by id').all() as Array<{ id: string }>).map(row => row.id)
    const streams = (db.prepare('select path from streams where path like \'sessions/%\' order by path').all() as Array<{ path: string }>).map(row => row.path)
    return { sessions, sessionStreams: streams }
  })
}

function expectConsistent(server: TestServer): void {
  const { sessions, sessionStreams } = sessionsAndStreams(server)
  expect(sessionStreams).toEqual(sessions.flatMap(id => [`sessions/${id}`, `sessions/${id}/presence`]).sort())
}

const terminal = (data: string) => ({ channel: 'terminal', data: { type: 'output', source: 'agent', data } })

describe('SQLite busy (another process holds the write lock)', () => {
  it('writes answer 503 with Retry-After after the busy timeout, reads go on, nothing is half-written, and the retry succeeds once', async () => {
    const server = await startSessionServer()
    servers.push(server)
    expect((await call(server, 'PUT', 'busy/log', { headers: JSON_TYPE, body: '[{"n":0}]' })).status).toBe(201)
    expect((await producerPost(server, 'busy/log', 0, '[{"n":1}]')).status).toBe(200)
    const session = await createSession(server)
    await publish(server, session, terminal('before'))
    const before = await state(server, session, 'busy/log')
    const follower = new StreamFollower(streamUrl(server, 'busy/log'), { mode: 'sse', offset: '-1', onBatch: () => {} }).start()
    await follower.until(() => follower.offset !== '-1', 'the reader is live')

    const release = holdWriteLock(server.dataDir)
    let append: Awaited<ReturnType<typeof producerPost>>
    let event: ApiResponse
    try {
      // Reads do not need the lock (WAL).
      expect((await call(server, 'GET', 'busy/log', { auth: false, query: '?offset=-1' })).status).toBe(200)
      expect((await api(server, 'GET', `/api/sessions/${session.id}/snapshot`)).status).toBe(200)
      // better-sqlite3 waits out busy_timeout (5 s) synchronously, so these take turns.
      ;[append, event] = await Promise.all([
        producerPost(server, 'busy/log', 1, '[{"n":2},{"n":3}]'),
        api(server, 'POST', `/api/sessions/${session.id}/events`, {
          json: [terminal('during'), { channel: 'chunks', data: { agentId: session.agentId, text: 'copied to the agent stream' } }],
          headers: { ...as('agent', session, server), 'idempotency-key': 'busy-1' },
        }),
      ])
    }
    finally {
      release()
    }
    expectUnavailable(append, 'producer append')
    expectUnavailable(event, 'session events')
    expect(event.body).toMatchObject({ data: { code: 'unavailable' } })
    expect(await state(server, session, 'busy/log')).toEqual(before)
    expect(follower.failures).toEqual([])

    // The same requests again: stored now, once. The producer's seq 1 is new (200, not a
    // duplicate), and the idempotency key was not used up by the failed attempt.
    const retried = await producerPost(server, 'busy/log', 1, '[{"n":2},{"n":3}]')
    expect(retried.status).toBe(200)
    const again = await api(server, 'POST', `/api/sessions/${session.id}/events`, {
      json: [terminal('during'), { channel: 'chunks', data: { agentId: session.agentId, text: 'copied to the agent stream' } }],
      headers: { ...as('agent', session, server), 'idempotency-key': 'busy-1' },
    })
    expect(again.status).toBe(200)
    expect((await readAll(server, 'busy/log')).messages).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }])
    expect((await snapshot(server, session.id)).state.terminal.map(entry => entry.data)).toEqual(['before', 'during'])
    expect((await streamMessages(server, `agents/${session.agentId}`)).length).toBe(before.agent.length + 1)

    // The live reader saw exactly that, no more.
    await follower.until(() => follower.offset === retried.headers.get('stream-next-offset'), 'the reader caught up')
    follower.stop()
    expect(follower.failures).toEqual([])
  }, 60_000)
})

describe('disk full', () => {
  let disk: TinyDisk | undefined
  let server: TestServer
  /** How the disk is made full: a real ENOSPC, or a file-size cap where mounting is not allowed. */
  let how: string
  let exhaust: (server: TestServer) => void
  let relieve: (server: TestServer) => void
  /** Leaves only about `bytes` of room, so a write runs out of space part-way. */
  let leaveRoom: (server: TestServer, bytes: number) => void

  beforeAll(async () => {
    // FAULTS_DISK=rlimit takes the fallback even where mounting works (to test it).
    const mounted = process.env.FAULTS_DISK === 'rlimit' ? { unavailable: 'FAULTS_DISK=rlimit' } : mountTinyDisk(16)
    if ('dir' in mounted) {
      // A real disk full: the data dir on a 16 MiB tmpfs, filled to the last byte.
      disk = mounted
      how = 'a 16 MiB tmpfs filled to ENOSPC'
      server = await startSessionServer({ dataDir: `${mounted.dir}/data` })
      exhaust = () => mounted.fill()
      relieve = () => mounted.release()
      leaveRoom = (_target, bytes) => {
        mounted.fill()
        mounted.release(bytes)
      }
    }
    else {
      // Without the privileges to mount, the nearest real fault: a file-size cap on the server
      // process (RLIMIT_FSIZE), so its writes past the current file sizes fail with EFBIG.
      how = `RLIMIT_FSIZE via prlimit, since ${mounted.unavailable}`
      server = await startSessionServer()
      exhaust = target => limitFileSize(target.pid, Math.max(...fileSizes(target.dataDir)) + 64 * 1024)
      relieve = target => limitFileSize(target.pid, undefined)
      leaveRoom = (target, bytes) => limitFileSize(target.pid, Math.max(...fileSizes(target.dataDir)) + bytes)
    }
    servers.push(server)
    console.info(`[faults] disk full by ${how}`)
  })
  afterAll(async () => {
    await server?.stop()
    disk?.unmount()
  })

  it('big writes answer 503 with Retry-After, nothing is half-written, and all is well once there is space again', async () => {
    expect((await call(server, 'PUT', 'full/log', { headers: JSON_TYPE, body: '[{"n":0}]' })).status).toBe(201)
    expect((await producerPost(server, 'full/log', 0, '[{"n":1}]')).status).toBe(200)
    const session = await createSession(server)
    await publish(server, session, terminal('before'))
    const before = await state(server, session, 'full/log')

    // Far more than the WAL has room for in the pages it already owns.
    const big = (n: number) => JSON.stringify([{ n, pad: 'x'.repeat(1_000_000) }])
    const bigEvents = Array.from({ length: 9 }, (_, i) => terminal(`${i} ${'y'.repeat(99_000)}`))
    const postBigEvents = () => api(server, 'POST', `/api/sessions/${session.id}/events`, {
      json: bigEvents,
      headers: { ...as('agent', session, server), 'idempotency-key': 'full-1' },
    })
    exhaust(server)
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        expectUnavailable(await producerPost(server, 'full/log', 1, big(2)), `append, attempt ${attempt}`)
        expectUnavailable(await postBigEvents(), `events, attempt ${attempt}`)
      }
      // The server stays up and serves reads meanwhile.
      expect((await fetch(`${server.url}/api/health`)).status).toBe(200)
      expect(await state(server, session, 'full/log')).toEqual(before)
    }
    finally {
      relieve(server)
    }

    // Space again: the same writes succeed, once.
    expect((await producerPost(server, 'full/log', 1, big(2))).status).toBe(200)
    expect((await postBigEvents()).status).toBe(200)
    expect((await readAll(server, 'full/log')).messages.map(m => (m as { n: number }).n)).toEqual([0, 1, 2])

    // And it all survives a crash: the file is sound and holds exactly what was acknowledged.
    await server.kill()
    expect(integrityCheck(server.dataDir)).toBe('ok')
    await server.restart()
    expect((await readAll(server, 'full/log')).messages.map(m => (m as { n: number }).n)).toEqual([0, 1, 2])
    expect((await snapshot(server, session.id)).state.terminal).toHaveLength(1 + bigEvents.length)
    expect((await producerPost(server, 'full/log', 1, big(2))).status).toBe(204)
    expect((await postBigEvents()).status).toBe(200) // the key's replay
    expect((await snapshot(server, session.id)).state.terminal).toHaveLength(1 + bigEvents.length)
  }, 60_000)

  it('session creation at the edge of a full disk: every 201 is a stored session, every 503 leaves none', async () => {
    const acknowledged: CreatedSession[] = []
    let refused = 0
    // Free space in small steps, so the space runs out at every point of a creation in turn —
    // between its streams, or at the commit of its session row.
    for (let step = 1; step <= 24; step++) {
      leaveRoom(server, 2048 * step)
      const created = await api<CreatedSession>(server, 'POST', '/api/sessions', { json: { title: `edge ${step} ${'t'.repeat(150)}`, agentId: `edge-${step}-${'a'.repeat(100)}` } })
      expect([201, 503], `step ${step}`).toContain(created.status)
      if (created.status === 201) acknowledged.push(created.body)
      else refused++
      relieve(server)
    }
    expect(refused, 'some creations ran out of space').toBeGreaterThan(0)
    expect(acknowledged.length, 'some creations fitted').toBeGreaterThan(0)

    const check = async () => {
      const { sessions } = sessionsAndStreams(server)
      for (const session of acknowledged) {
        expect(sessions, `acknowledged session ${session.id} is stored`).toContain(session.id)
        expect((await api(server, 'GET', `/api/sessions/${session.id}`)).status).toBe(200)
        expect((await publish(server, session, terminal('usable'))).length).toBeGreaterThan(0)
      }
    }
    await check()
    // Retention removes the empty streams of creations that failed after making them, once they
    // are old enough not to be a creation still under way (a minute: here, retention as of later).
    expect((await api(server, 'POST', '/api/admin/retention', { json: { now: Date.now() + 2 * 60_000 }, headers: { authorization: `Bearer ${server.token}` } })).status).toBe(200)
    expectConsistent(server)
    // A crash changes nothing of that.
    await server.kill()
    await server.restart()
    expectConsistent(server)
    await check()
    console.info(`[faults] creation at the edge of a full disk: ${acknowledged.length} × 201 (all stored), ${refused} × 503 (none stored)`)
  }, 60_000)
})

/** Sizes of the files in a data dir (the cap must leave room for what is there). */
function fileSizes(dataDir: string): number[] {
  return readdirSync(dataDir).map(file => statSync(join(dataDir, file)).size)
}
