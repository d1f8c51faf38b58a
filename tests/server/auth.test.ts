import { existsSync, readFileSync, statSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serverTokenFile, startServer } from '../support/server'
import type { TestServer } from '../support/server'
import { call, headStatus, readAll, streamUrl } from '../support/streams'

/**
 * Writes (PUT, POST, DELETE) need the server's bearer token; reads never do. A refused write
 * must leave no trace, and a server without a configured token makes one it keeps to itself.
 */

const TEXT = { 'content-type': 'text/plain' }

/** Authorization values that must all be refused: absent, wrong, near misses, other schemes. */
function badCredentials(token: string): Array<[string, Record<string, string>]> {
  return [
    ['no Authorization', {}],
    ['a wrong bearer token', { authorization: 'Bearer not-the-token' }],
    ['the token with a suffix', { authorization: `Bearer ${token}x` }],
    ['a prefix of the token', { authorization: `Bearer ${token.slice(0, -1)}` }],
    ['the token without a scheme', { authorization: token }],
    ['the token as Basic credentials', { authorization: `Basic ${Buffer.from(`user:${token}`).toString('base64')}` }],
    ['an empty bearer token', { authorization: 'Bearer ' }],
  ]
}

async function expectUnauthorized(pending: ReturnType<typeof call>, label: string): Promise<void> {
  const response = await pending
  expect(response.status, label).toBe(401)
  expect(response.headers.get('www-authenticate'), label).toMatch(/^Bearer\b/i)
}

/** Reads an SSE response until `text` shows up in it, then hangs up. */
async function readSseUntil(url: string, text: string): Promise<{ status: number, contentType: string | null, received: string }> {
  const controller = new AbortController()
  const response = await fetch(url, { signal: controller.signal })
  let received = ''
  if (response.ok && response.body) {
    const decoder = new TextDecoder()
    const reader = response.body.getReader()
    while (!received.includes(text)) {
      const { done, value } = await reader.read()
      if (done) break
      received += decoder.decode(value, { stream: true })
    }
  }
  controller.abort()
  return { status: response.status, contentType: response.headers.get('content-type'), received }
}

describe('with a server token configured', () => {
  let server: TestServer

  beforeAll(async () => {
    // Short long-polls, so a poll at the tail answers quickly.
    server = await startServer({ env: { NUXT_DURABLE_SESSIONS_STREAMS_LONG_POLL_TIMEOUT_MS: '500' } })
  })
  afterAll(() => server?.stop())

  it('refuses PUT without the right token and creates nothing', async () => {
    for (const [label, headers] of badCredentials(server.token)) {
      await expectUnauthorized(call(server, 'PUT', 'auth/put', { headers: { ...TEXT, ...headers }, body: 'initial', auth: false }), label)
      expect(await headStatus(server, 'auth/put'), label).toBe(404)
    }
    expect((await call(server, 'PUT', 'auth/put', { headers: TEXT, body: 'initial' })).status).toBe(201)
    expect((await readAll(server, 'auth/put')).body.toString()).toBe('initial')

    // A refused fork must not count as a fork: the source is then deleted outright (404), not
    // kept soft-deleted (410) for a fork that does not exist.
    for (const [label, headers] of badCredentials(server.token)) {
      await expectUnauthorized(call(server, 'PUT', 'auth/put-fork', {
        headers: { ...headers, 'stream-forked-from': '/v1/stream/auth/put' },
        auth: false,
      }), `${label}, fork`)
      expect(await headStatus(server, 'auth/put-fork'), label).toBe(404)
    }
    expect((await call(server, 'DELETE', 'auth/put')).status).toBe(204)
    expect(await headStatus(server, 'auth/put')).toBe(404)
  })

  it('refuses POST without the right token and appends nothing', async () => {
    expect((await call(server, 'PUT', 'auth/post', { headers: TEXT, body: 'a' })).status).toBe(201)
    const before = await readAll(server, 'auth/post')
    for (const [label, headers] of badCredentials(server.token)) {
      await expectUnauthorized(call(server, 'POST', 'auth/post', { headers: { ...TEXT, ...headers }, body: 'b', auth: false }), label)
      // Neither data nor closure, nor producer state may slip through.
      await expectUnauthorized(call(server, 'POST', 'auth/post', { headers: { ...headers, 'stream-closed': 'true' }, auth: false }), `${label}, close`)
      await expectUnauthorized(call(server, 'POST', 'auth/post', {
        headers: { ...TEXT, ...headers, 'producer-id': 'p', 'producer-epoch': '0', 'producer-seq': '0' },
        body: 'c',
        auth: false,
      }), `${label}, producer`)
      expect(await readAll(server, 'auth/post'), label).toEqual(before)
    }
    // Had the refused producer append been recorded, seq 0 would now be a duplicate (204).
    const accepted = await call(server, 'POST', 'auth/post', {
      headers: { ...TEXT, 'producer-id': 'p', 'producer-epoch': '0', 'producer-seq': '0' },
      body: 'b',
    })
    expect(accepted.status).toBe(200)
    const after = await readAll(server, 'auth/post')
    expect(after.body.toString()).toBe('ab')
    expect(after.closed).toBe(false)
  })

  it('refuses DELETE without the right token and deletes nothing', async () => {
    expect((await call(server, 'PUT', 'auth/delete', { headers: TEXT, body: 'keep me' })).status).toBe(201)
    for (const [label, headers] of badCredentials(server.token)) {
      await expectUnauthorized(call(server, 'DELETE', 'auth/delete', { headers, auth: false }), label)
      expect((await readAll(server, 'auth/delete')).body.toString(), label).toBe('keep me')
    }
    expect((await call(server, 'DELETE', 'auth/delete')).status).toBe(204)
    expect(await headStatus(server, 'auth/delete')).toBe(404)
  })

  it('checks the token before anything else about the request', async () => {
    expect((await call(server, 'PUT', 'auth/closed', { headers: { ...TEXT, 'stream-closed': 'true' } })).status).toBe(201)
    // With the token these would be 409 (closed), 409 (config conflict) and 404: without it, the
    // answer is 401 and reveals nothing about the stream.
    await expectUnauthorized(call(server, 'POST', 'auth/closed', { headers: TEXT, body: 'x', auth: false }), 'append to a closed stream')
    await expectUnauthorized(call(server, 'PUT', 'auth/closed', { headers: { 'content-type': 'application/json' }, auth: false }), 'conflicting PUT')
    await expectUnauthorized(call(server, 'DELETE', 'auth/never-created', { auth: false }), 'DELETE of a missing stream')
  })

  it('serves reads without a token: GET, HEAD, SSE and long-poll', async () => {
    expect((await call(server, 'PUT', 'auth/read', { headers: TEXT, body: 'hello ' })).status).toBe(201)

    const head = await call(server, 'HEAD', 'auth/read', { auth: false })
    expect(head.status).toBe(200)
    const tail = head.headers.get('stream-next-offset')!

    const get = await call(server, 'GET', 'auth/read', { auth: false, query: '?offset=-1' })
    expect(get.status).toBe(200)
    expect(get.body.toString()).toBe('hello ')

    const sse = await readSseUntil(`${streamUrl(server, 'auth/read')}?offset=-1&live=sse`, 'hello ')
    expect(sse.status).toBe(200)
    expect(sse.contentType).toMatch(/^text\/event-stream/)
    expect(sse.received).toContain('hello ')

    // A long-poll at the tail: empty-handed (204) or, once data arrives, the new data.
    const idle = await call(server, 'GET', 'auth/read', { auth: false, query: `?offset=${tail}&live=long-poll` })
    expect(idle.status).toBe(204)
    const waiting = call(server, 'GET', 'auth/read', { auth: false, query: `?offset=${tail}&live=long-poll` })
    expect((await call(server, 'POST', 'auth/read', { headers: TEXT, body: 'world' })).status).toBe(204)
    const woken = await waiting
    // The append may land before the poll starts waiting or after; either way the poll gets it,
    // unless it timed out first on a slow machine — then the data is there for the next poll.
    const data = woken.status === 200
      ? woken.body.toString()
      : (await call(server, 'GET', 'auth/read', { auth: false, query: `?offset=${tail}&live=long-poll` })).body.toString()
    expect(data).toBe('world')
  })
})

describe('with NUXT_DURABLE_SESSIONS_STREAMS_AUTH=off', () => {
  let server: TestServer

  beforeAll(async () => {
    server = await startServer({ env: { NUXT_DURABLE_SESSIONS_STREAMS_AUTH: 'off' } })
  })
  afterAll(() => server?.stop())

  it('accepts writes without a token', async () => {
    expect((await call(server, 'PUT', 'open/stream', { headers: TEXT, body: 'a', auth: false })).status).toBe(201)
    expect((await call(server, 'POST', 'open/stream', { headers: TEXT, body: 'b', auth: false })).status).toBe(204)
    // Credentials are not checked at all, so wrong ones do not matter either.
    expect((await call(server, 'POST', 'open/stream', { headers: { ...TEXT, authorization: 'Bearer whatever' }, body: 'c', auth: false })).status).toBe(204)
    expect((await readAll(server, 'open/stream')).body.toString()).toBe('abc')
    expect((await call(server, 'DELETE', 'open/stream', { auth: false })).status).toBe(204)
    expect(await headStatus(server, 'open/stream')).toBe(404)
  })
})

describe('without a configured token', () => {
  let server: TestServer

  beforeAll(async () => {
    server = await startServer({ env: { NUXT_DURABLE_SESSIONS_STREAMS_TOKEN: '' } })
  })
  afterAll(() => server?.stop())

  it('generates a private token file, logs where it is but never the token, and keeps it across restarts', async () => {
    const file = serverTokenFile(server.dataDir)
    expect(existsSync(file)).toBe(true)
    // Owner read/write only: the token is a credential.
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const token = readFileSync(file, 'utf8').trim()
    expect(token.length).toBeGreaterThanOrEqual(32)
    expect(server.token).toBe(token)
    expect(server.log).toContain(file)
    expect(server.log).not.toContain(token)

    await expectUnauthorized(call(server, 'PUT', 'generated/stream', { headers: TEXT, auth: false }), 'no token')
    await expectUnauthorized(call(server, 'PUT', 'generated/stream', { headers: { ...TEXT, authorization: 'Bearer ' }, auth: false }), 'empty token')
    expect((await call(server, 'PUT', 'generated/stream', { headers: { ...TEXT, authorization: `Bearer ${token}` }, body: 'one', auth: false })).status).toBe(201)

    await server.restart()
    expect(readFileSync(file, 'utf8').trim()).toBe(token)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(server.log).not.toContain(token)
    await expectUnauthorized(call(server, 'POST', 'generated/stream', { headers: TEXT, body: 'x', auth: false }), 'no token after restart')
    expect((await call(server, 'POST', 'generated/stream', { headers: { ...TEXT, authorization: `Bearer ${token}` }, body: 'two', auth: false })).status).toBe(204)
    expect((await readAll(server, 'generated/stream')).body.toString()).toBe('onetwo')
  })
})
