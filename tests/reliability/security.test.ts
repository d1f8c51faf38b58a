import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import { nodeRequest } from '../support/http'
import type { NodeResponse } from '../support/http'
import type { TestServer } from '../support/server'
import { api, as, createSession, postEvents, postPresence, publish, startSessionServer, streamMessages, wrongSecret } from '../support/sessions'
import { call, readAll } from '../support/streams'

/**
 * Abuse from the outside: who may write where, what secrets ever leave the server again, what
 * a browser on another origin may read, and what one noisy client costs the others.
 * Token comparison itself is covered by token-compare.test.ts.
 */

const EMBED_ORIGINS = 'https://embed.example, https://other.example javascript:alert(1) https://bad.example/path'
/** A server token that looks like nothing else in the log, so finding it there means it leaked. */
const SERVER_TOKEN = `st-${randomBytes(24).toString('base64url')}`

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer({
    env: {
      NUXT_DURABLE_SESSIONS_STREAMS_TOKEN: SERVER_TOKEN,
      NUXT_DURABLE_SESSIONS_EMBED_ORIGINS: EMBED_ORIGINS,
      // As `npm start` runs it: without the NODE_ENV=test the test runner would pass on.
      NODE_ENV: '',
    },
  })
})
afterAll(() => server?.stop())

const chunk = (session: CreatedSession, text = 'hi') => ({ channel: 'chunks', data: { agentId: session.agentId, text } })

/** Every event kind only the agent (or the server) may write. */
const AGENT_ONLY = (session: CreatedSession) => [
  chunk(session),
  { channel: 'toolCalls', data: { agentId: session.agentId, tool: 'rm', input: { path: '/' }, status: 'running' } },
  { channel: 'agentState', data: { agentId: session.agentId, status: 'completed' } },
  { channel: 'terminal', data: { type: 'output', source: 'agent', data: 'forged output' } },
  { channel: 'terminal', data: { type: 'input', source: 'agent', data: 'forged command' } },
  { channel: 'workflow', data: { type: 'approval:requested', payload: { title: 'forged' } } },
  { channel: 'workflow', data: { type: 'worktree:merged', payload: {} } },
]

describe('who may write where', () => {
  it('raw protocol writes need the server token: none, a wrong one, or a session credential → 401, and nothing changes', async () => {
    const session = await createSession(server)
    await publish(server, session, chunk(session, 'before'))
    const paths = [`sessions/${session.id}`, `sessions/${session.id}/presence`, `agents/${session.agentId}`]
    const before = await Promise.all(paths.map(path => readAll(server, path)))
    const credentials: Array<[string, Record<string, string>]> = [
      ['no credentials', {}],
      ['a wrong bearer token', { authorization: `Bearer ${wrongSecret(SERVER_TOKEN)}` }],
      ['the agent token', { authorization: `Bearer ${session.agentToken}` }],
      ['the collaborator key as bearer', { authorization: `Bearer ${session.collaboratorKey}` }],
      ['the collaborator key header', { 'x-collaborator-key': session.collaboratorKey }],
    ]
    const json = { 'content-type': 'application/json' }
    for (const [label, headers] of credentials) {
      for (const path of paths) {
        const attempts = [
          call(server, 'POST', path, { headers: { ...json, ...headers }, body: '[{"type":"chunk","key":"x","value":{},"headers":{"operation":"insert"}}]', auth: false }),
          call(server, 'POST', path, { headers: { ...headers, 'stream-closed': 'true' }, auth: false }),
          call(server, 'PUT', path, { headers: { ...json, ...headers }, auth: false }),
          call(server, 'DELETE', path, { headers, auth: false }),
        ]
        for (const response of await Promise.all(attempts)) expect(response.status, `${label} on ${path}`).toBe(401)
      }
      expect((await call(server, 'PUT', `free/${session.id}`, { headers: { ...json, ...headers }, auth: false })).status, label).toBe(401)
    }
    expect(await Promise.all(paths.map(path => readAll(server, path)))).toEqual(before)
  })

  it('a viewer gets 403 on every agent channel; so does a collaborator', async () => {
    const session = await createSession(server)
    for (const role of ['viewer', 'collaborator'] as const) {
      for (const event of AGENT_ONLY(session)) {
        const response = await postEvents(server, session, event, as(role, session, server))
        expect(response.status, `${role}: ${JSON.stringify(event)}`).toBe(403)
        expect(response.text).not.toContain(session.collaboratorKey)
      }
      // Hidden in a batch behind an allowed event, it still refuses the whole batch.
      const batch = await postEvents(server, session, [{ channel: 'presence', data: { userId: 'u' } }, chunk(session)], as(role, session, server))
      expect(batch.status).toBe(403)
    }
    for (const role of ['viewer', 'collaborator'] as const) {
      expect((await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as(role, session, server) })).status).toBe(403)
      expect((await api(server, 'DELETE', `/api/sessions/${session.id}`, { headers: as(role, session, server) })).status).toBe(403)
      expect((await api(server, 'POST', `/api/sessions/${session.id}/demo`, { json: {}, headers: as(role, session, server) })).status).toBe(403)
    }
    expect(await streamMessages(server, `sessions/${session.id}`)).toEqual([])
    expect(await streamMessages(server, `agents/${session.agentId}`)).toEqual([])
  })

  it('credentials of one session are worth nothing on another (401, not a downgrade to viewer)', async () => {
    const mine = await createSession(server)
    const theirs = await createSession(server)
    const forged: Array<Record<string, string>> = [
      { authorization: `Bearer ${mine.agentToken}` },
      { 'x-collaborator-key': mine.collaboratorKey },
    ]
    for (const headers of forged) {
      expect((await postEvents(server, theirs, chunk(theirs), headers)).status).toBe(401)
      expect((await postEvents(server, theirs, { channel: 'terminal', data: { type: 'input', source: 'user', data: 'ls' } }, headers)).status).toBe(401)
      expect((await postPresence(server, theirs, { userId: 'u', action: 'join' }, headers)).status).toBe(401)
      expect((await api(server, 'POST', `/api/sessions/${theirs.id}/close`, { headers })).status).toBe(401)
    }
    expect(await streamMessages(server, `sessions/${theirs.id}`)).toEqual([])
    expect(await streamMessages(server, `sessions/${theirs.id}/presence`)).toEqual([])
  })
})

describe('secrets', () => {
  it('never appear again after creation: not in API answers, streams, SSE, pages or error bodies', async () => {
    const session = await createSession(server, { title: 'secret sweep' })
    const secrets = [session.agentToken, session.collaboratorKey, SERVER_TOKEN]
    const hashes = secrets.map(secret => createHash('sha256').update(secret).digest('hex'))
    const bodies: Array<[string, string]> = []
    const keep = (label: string, text: string) => bodies.push([label, text])

    keep('events', (await postEvents(server, session, chunk(session, 'sweep'))).text)
    keep('collaborator input', (await postEvents(server, session, { channel: 'terminal', data: { type: 'input', source: 'user', data: 'ls' } }, as('collaborator', session, server))).text)
    keep('presence', (await postPresence(server, session, { userId: 'u', action: 'join' }, as('collaborator', session, server))).text)
    keep('server-token write', (await postEvents(server, session, chunk(session, 'by server'), as('server', session, server))).text)
    keep('near-miss agent token', (await postEvents(server, session, chunk(session), { authorization: `Bearer ${session.agentToken}x` })).text)
    keep('near-miss key', (await postEvents(server, session, chunk(session), { 'x-collaborator-key': `${session.collaboratorKey}x` })).text)
    keep('forbidden', (await postEvents(server, session, chunk(session), as('collaborator', session, server))).text)
    keep('raw 401', (await call(server, 'POST', `sessions/${session.id}`, { headers: { authorization: `Bearer ${SERVER_TOKEN}x`, 'content-type': 'application/json' }, body: '[]', auth: false })).body.toString())
    keep('details', (await api(server, 'GET', `/api/sessions/${session.id}`)).text)
    keep('snapshot', (await api(server, 'GET', `/api/sessions/${session.id}/snapshot`)).text)
    keep('list', (await api(server, 'GET', '/api/sessions?limit=100')).text)
    for (const path of [`sessions/${session.id}`, `sessions/${session.id}/presence`, `agents/${session.agentId}`])
      keep(path, (await readAll(server, path)).body.toString())
    keep('sse', await sseUntilUpToDate(`${server.url}/v1/stream/sessions/${session.id}?offset=-1&live=sse`))
    for (const page of ['/', `/sessions/${session.id}`, `/embed/sessions/${session.id}`])
      keep(page, await (await fetch(`${server.url}${page}`, { headers: { accept: 'text/html' } })).text())
    keep('close', (await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as('agent', session, server) })).text)

    for (const [label, text] of bodies) {
      for (const secret of [...secrets, ...hashes]) expect(text.includes(secret), `${label} contains a secret`).toBe(false)
    }
  })

  it('never appear in the server log, and sit in the data directory only as hashes', async () => {
    // A run that uses every credential, right and wrong, through every door.
    const session = await createSession(server, { title: 'log sweep' })
    await publish(server, session, chunk(session))
    await postEvents(server, session, { channel: 'terminal', data: { type: 'input', source: 'user', data: 'ls' } }, as('collaborator', session, server))
    await postEvents(server, session, chunk(session), { authorization: `Bearer ${session.agentToken}-wrong` })
    await postEvents(server, session, chunk(session), { 'x-collaborator-key': `${session.collaboratorKey}-wrong` })
    await postEvents(server, session, chunk(session), as('collaborator', session, server))
    await api(server, 'POST', '/api/admin/retention', { json: {}, headers: { authorization: `Bearer ${session.agentToken}` } })
    await api(server, 'POST', '/api/admin/retention', { json: {}, headers: { authorization: `Bearer ${SERVER_TOKEN}` } })
    await call(server, 'POST', `sessions/${session.id}`, { headers: { authorization: `Bearer ${session.agentToken}`, 'content-type': 'application/json' }, body: '[1]', auth: false })
    await call(server, 'PUT', 'log/sweep', { headers: { 'content-type': 'text/plain' }, body: 'x' })
    // Secrets in URLs (the collaborate link carries its key) and garbage in them.
    await fetch(`${server.url}/sessions/${session.id}?key=${session.collaboratorKey}`, { headers: { accept: 'text/html' } })
    await fetch(`${server.url}/no-such-page?key=${session.collaboratorKey}&token=${SERVER_TOKEN}`, { headers: { accept: 'text/html' } })
    await fetch(`${server.url}/api/sessions/${session.id}/nope?key=${session.collaboratorKey}`)
    await api(server, 'DELETE', `/api/sessions/${session.id}`, { headers: as('agent', session, server) })
    await server.restart() // start and graceful-shutdown messages too

    const secrets = [session.agentToken, session.collaboratorKey, SERVER_TOKEN]
    for (const secret of secrets) {
      const at = server.log.indexOf(secret)
      expect(at, `the server log contains a secret: …${server.log.slice(Math.max(0, at - 300), at + 100)}…`).toBe(-1)
      expect(server.log.includes(encodeURIComponent(secret))).toBe(false)
    }
    // Session secrets are stored hashed, and a configured server token is not stored at all.
    for (const file of readdirSync(server.dataDir)) {
      const path = join(server.dataDir, file)
      if (!existsSync(path) || !/\.sqlite|server-token/.test(file)) continue
      const bytes = readFileSync(path)
      for (const secret of secrets) expect(bytes.includes(secret), `${file} contains a secret`).toBe(false)
    }
  })
})

describe('pages: Content-Security-Policy with a per-response nonce, no framing', () => {
  /** The directives of a CSP header, by name. */
  function directives(csp: string | null): Map<string, string[]> {
    expect(csp).toBeTruthy()
    return new Map(csp!.split(';').map(part => part.trim()).filter(Boolean).map((part) => {
      const [name, ...values] = part.split(/\s+/)
      return [name!.toLowerCase(), values] as [string, string[]]
    }))
  }

  async function page(path: string) {
    const response = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html' } })
    return { status: response.status, headers: response.headers, html: await response.text() }
  }

  function expectNoncedScripts(csp: Map<string, string[]>, html: string): string {
    const scriptSrc = csp.get('script-src') ?? csp.get('default-src')!
    expect(scriptSrc).not.toContain('\'unsafe-inline\'')
    expect(scriptSrc).not.toContain('\'unsafe-eval\'')
    expect(scriptSrc).not.toContain('*')
    const nonces = scriptSrc.filter(source => source.startsWith('\'nonce-')).map(source => source.slice(7, -1))
    expect(nonces).toHaveLength(1)
    const nonce = nonces[0]!
    expect(nonce.length).toBeGreaterThanOrEqual(16)
    const tags = html.match(/<script\b[^>]*>/g) ?? []
    expect(tags.length).toBeGreaterThan(0)
    for (const tag of tags) expect(tag, 'every script tag carries the nonce').toContain(`nonce="${nonce}"`)
    expect(csp.get('object-src')).toEqual(['\'none\''])
    return nonce
  }

  it('the app: a nonce on every script tag, fresh for every response, and X-Frame-Options DENY', async () => {
    const first = await page('/')
    expect(first.status).toBe(200)
    const csp = directives(first.headers.get('content-security-policy'))
    const nonce = expectNoncedScripts(csp, first.html)
    expect(csp.get('frame-ancestors')).toEqual(['\'none\''])
    expect(first.headers.get('x-frame-options')).toBe('DENY')
    expect(first.headers.get('x-content-type-options')).toBe('nosniff')

    const second = await page('/')
    expect(expectNoncedScripts(directives(second.headers.get('content-security-policy')), second.html)).not.toBe(nonce)
  })

  it('a session page may not be framed either', async () => {
    const session = await createSession(server)
    const shown = await page(`/sessions/${session.id}`)
    const csp = directives(shown.headers.get('content-security-policy'))
    expect(csp.get('frame-ancestors')).toEqual(['\'none\''])
    expect(shown.headers.get('x-frame-options')).toBe('DENY')
    expect(shown.status).toBe(200)
    expectNoncedScripts(csp, shown.html)
  })

  it('/embed/** may be framed by NUXT_DURABLE_SESSIONS_EMBED_ORIGINS only (invalid entries dropped), with no X-Frame-Options', async () => {
    const session = await createSession(server)
    const embed = await page(`/embed/sessions/${session.id}`)
    expect(embed.status).toBe(200)
    const csp = directives(embed.headers.get('content-security-policy'))
    expectNoncedScripts(csp, embed.html)
    expect(csp.get('frame-ancestors')).toEqual(['\'self\'', 'https://embed.example', 'https://other.example'])
    expect(embed.headers.get('x-frame-options')).toBeNull()
  })
})

describe('CORS', () => {
  const origin = 'https://elsewhere.example'

  it('protocol endpoints: any origin may read (default *), protocol headers are exposed, no credentials', async () => {
    expect((await call(server, 'PUT', 'cors/stream', { headers: { 'content-type': 'application/json' }, body: '[1]' })).status).toBe(201)
    const responses: Array<[string, Response]> = [
      ['GET', await fetch(`${server.url}/v1/stream/cors/stream?offset=-1`, { headers: { origin } })],
      ['HEAD', await fetch(`${server.url}/v1/stream/cors/stream`, { method: 'HEAD', headers: { origin } })],
      ['404', await fetch(`${server.url}/v1/stream/cors/missing?offset=-1`, { headers: { origin } })],
      ['401', await fetch(`${server.url}/v1/stream/cors/stream`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: '[2]' })],
    ]
    for (const [label, response] of responses) {
      await response.arrayBuffer()
      expect(response.headers.get('access-control-allow-origin'), label).toBe('*')
      expect(response.headers.get('access-control-allow-credentials'), label).toBeNull()
      const exposed = (response.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/\s*,\s*/)
      for (const name of ['stream-next-offset', 'stream-cursor', 'stream-up-to-date', 'stream-closed', 'etag',
        'producer-epoch', 'producer-seq', 'producer-expected-seq', 'producer-received-seq'])
        expect(exposed, `${label} exposes ${name}`).toContain(name)
    }
  })

  it('protocol preflight allows every method and the protocol headers, If-None-Match included', async () => {
    const asked = 'authorization, content-type, if-none-match, producer-id, producer-epoch, producer-seq, stream-seq, stream-ttl, stream-closed'
    const preflight = await fetch(`${server.url}/v1/stream/cors/stream`, {
      method: 'OPTIONS',
      headers: { 'origin': origin, 'access-control-request-method': 'POST', 'access-control-request-headers': asked },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
    const methods = preflight.headers.get('access-control-allow-methods')!.split(/\s*,\s*/)
    for (const method of ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']) expect(methods).toContain(method)
    const allowed = preflight.headers.get('access-control-allow-headers')!.toLowerCase().split(/\s*,\s*/)
    for (const name of asked.split(', ')) expect(allowed).toContain(name)
    // Without a request list, the default list still names the protocol's headers.
    const plain = await fetch(`${server.url}/v1/stream/cors/stream`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET' } })
    const defaults = plain.headers.get('access-control-allow-headers')!.toLowerCase()
    for (const name of ['if-none-match', 'producer-id', 'stream-closed', 'authorization']) expect(defaults).toContain(name)
  })

  it('the session API sends no Access-Control-Allow-Origin: cross-origin scripts cannot read it', async () => {
    const session = await createSession(server)
    const requests: Array<[string, Promise<Response>]> = [
      ['list', fetch(`${server.url}/api/sessions`, { headers: { origin } })],
      ['details', fetch(`${server.url}/api/sessions/${session.id}`, { headers: { origin } })],
      ['snapshot', fetch(`${server.url}/api/sessions/${session.id}/snapshot`, { headers: { origin } })],
      ['create', fetch(`${server.url}/api/sessions`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: '{}' })],
      ['events', fetch(`${server.url}/api/sessions/${session.id}/events`, { method: 'POST', headers: { origin, 'content-type': 'application/json', ...as('agent', session, server) }, body: JSON.stringify(chunk(session)) })],
      ['preflight', fetch(`${server.url}/api/sessions/${session.id}/events`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } })],
    ]
    for (const [label, pending] of requests) {
      const response = await pending
      await response.arrayBuffer()
      expect(response.headers.get('access-control-allow-origin'), label).toBeNull()
      expect(response.headers.get('access-control-allow-credentials'), label).toBeNull()
      expect(response.headers.get('access-control-allow-headers'), label).toBeNull()
    }
  })
})

describe('with NUXT_DURABLE_SESSIONS_STREAMS_CORS_ORIGIN and small NUXT_DURABLE_SESSIONS_RATE_LIMIT_* values', () => {
  let limited: TestServer
  /** Each test speaks from addresses of its own: the buckets are per client address. */
  const ip = (n: number) => `127.0.0.${n}`

  beforeAll(async () => {
    limited = await startSessionServer({
      env: {
        NUXT_DURABLE_SESSIONS_STREAMS_CORS_ORIGIN: 'https://app.example',
        // Slow refills (one token per 5 s), so a slow test machine cannot earn a client a token
        // between the requests that must be refused.
        NUXT_DURABLE_SESSIONS_RATE_LIMIT_PER_SECOND: '0.2',
        NUXT_DURABLE_SESSIONS_RATE_LIMIT_BURST: '3',
        NUXT_DURABLE_SESSIONS_RATE_LIMIT_AGENT_PER_SECOND: '0.2',
        NUXT_DURABLE_SESSIONS_RATE_LIMIT_AGENT_BURST: '3',
        NUXT_DURABLE_SESSIONS_RATE_LIMIT_CREATE_PER_MINUTE: '2',
      },
    })
  })
  afterAll(() => limited?.stop())

  function from(address: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<NodeResponse> {
    return nodeRequest(limited.url, path, {
      method,
      localAddress: address,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  }

  async function createFrom(address: string): Promise<CreatedSession> {
    const response = await from(address, 'POST', '/api/sessions', {})
    expect(response.status).toBe(201)
    return JSON.parse(response.body.toString()) as CreatedSession
  }

  function expectLimited(response: NodeResponse, label: string): void {
    expect(response.status, label).toBe(429)
    const retryAfter = Number(response.headers['retry-after'])
    expect(Number.isInteger(retryAfter) && retryAfter >= 1, `${label}: Retry-After ${response.headers['retry-after']}`).toBe(true)
  }

  it('the protocol answers with the configured origin', async () => {
    const response = await fetch(`${limited.url}/v1/stream/nothing?offset=-1`, { headers: { origin: 'https://evil.example' } })
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example')
  })

  it('a client over its limit gets 429 with Retry-After, writes nothing, and other clients are unaffected', async () => {
    const session = await createFrom(ip(10))
    const presence = (n: number) => ({ userId: `u${n}`, action: 'join' })
    const noisy = ip(11)
    const answers: NodeResponse[] = []
    for (let n = 0; n < 6; n++) answers.push(await from(noisy, 'POST', `/api/sessions/${session.id}/presence`, presence(n)))
    expect(answers.slice(0, 3).map(a => a.status)).toEqual([200, 200, 200])
    for (const answer of answers.slice(3)) expectLimited(answer, 'presence over the limit')
    // Events count against the same bucket, and X-Forwarded-For does not make a new client.
    expectLimited(await from(noisy, 'POST', `/api/sessions/${session.id}/events`, { channel: 'presence', data: { userId: 'x' } }), 'events')
    expectLimited(await from(noisy, 'POST', `/api/sessions/${session.id}/presence`, presence(9), { 'x-forwarded-for': ip(99) }), 'spoofed X-Forwarded-For')
    // Refused writes left nothing behind.
    const stored = await streamMessages(limited, `sessions/${session.id}/presence`)
    expect(stored.map(change => change.key)).toEqual(['u0', 'u1', 'u2'])

    // Someone else, at the same moment, is not slowed down at all.
    const quiet = ip(12)
    for (let n = 0; n < 3; n++) expect((await from(quiet, 'POST', `/api/sessions/${session.id}/presence`, presence(100 + n))).status).toBe(200)

    // The noisy client may write again once the Retry-After has passed.
    await new Promise(resolve => setTimeout(resolve, Number(answers.at(-1)!.headers['retry-after']) * 1000 + 100))
    expect((await from(noisy, 'POST', `/api/sessions/${session.id}/presence`, presence(200))).status).toBe(200)
  })

  it('agents are limited per token: one agent over its limit does not slow another agent or viewers on the same address', async () => {
    const [first, second] = [await createFrom(ip(20)), await createFrom(ip(21))]
    const shared = ip(22)
    const write = (session: CreatedSession, headers: Record<string, string>) =>
      from(shared, 'POST', `/api/sessions/${session.id}/events`, chunk(session), headers)
    const statuses: NodeResponse[] = []
    for (let n = 0; n < 5; n++) statuses.push(await write(first, { authorization: `Bearer ${first.agentToken}` }))
    expect(statuses.slice(0, 3).map(s => s.status)).toEqual([200, 200, 200])
    for (const answer of statuses.slice(3)) expectLimited(answer, 'agent over its limit')
    expect((await write(second, { authorization: `Bearer ${second.agentToken}` })).status).toBe(200)
    expect((await from(shared, 'POST', `/api/sessions/${first.id}/presence`, { userId: 'viewer', action: 'join' })).status).toBe(200)
    expect((await streamMessages(limited, `sessions/${first.id}`)).length).toBe(3)
  })

  it('creating sessions is limited per address and minute', async () => {
    const busy = ip(30)
    expect((await from(busy, 'POST', '/api/sessions', {})).status).toBe(201)
    expect((await from(busy, 'POST', '/api/sessions', {})).status).toBe(201)
    const refused = await from(busy, 'POST', '/api/sessions', {})
    expectLimited(refused, 'third create within a minute')
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(1)
    expect((await from(ip(31), 'POST', '/api/sessions', {})).status).toBe(201)
  })
})

/** An SSE response read until its first control event that says upToDate, then dropped. */
async function sseUntilUpToDate(url: string): Promise<string> {
  const controller = new AbortController()
  const response = await fetch(url, { signal: controller.signal })
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  while (!text.includes('"upToDate":true')) {
    const { done, value } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  controller.abort()
  return text
}
