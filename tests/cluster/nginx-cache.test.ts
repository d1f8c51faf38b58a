import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useCluster } from '../support/cluster'
import { StreamFollower } from '../support/follow'
import { renderNginxConfig, startNginx } from '../support/nginx'
import type { TestNginx } from '../support/nginx'

/**
 * The shipped nginx configuration (deploy/nginx.conf.template) in front of two instances on one
 * PostgreSQL database: request collapsing proven by counting, in nginx's access log, the
 * requests that reached an instance; SSE passed through unbuffered.
 */

const READERS = 200
const MESSAGES = 20_000
const cluster = useCluster(2, { env: { NUXT_DURABLE_SESSIONS_SEED_DEMO: 'false', NUXT_DURABLE_SESSIONS_STREAMS_AUTH: 'off', NUXT_DURABLE_SESSIONS_TRUST_PROXY: '1' } })
let nginx: TestNginx
beforeAll(async () => {
  nginx = await startNginx(cluster.servers.map(server => server.url))
})
afterAll(() => nginx?.stop())

const url = (path: string, query = '') => `${nginx.url}/v1/stream/${path}${query}`
const json = { 'content-type': 'application/json' }

/** Requests for `path` that nginx sent to an instance (its access log's upstream field). */
function originRequests(path: string, filter: (line: string) => boolean = () => true): number {
  return nginx.accessLog().filter(line => line.includes(`/v1/stream/${path}`) && !/upstream=- /.test(line) && filter(line)).length
}

async function fill(path: string, close: boolean): Promise<void> {
  expect((await fetch(url(path), { method: 'PUT', headers: json })).status).toBe(201)
  for (let sent = 0; sent < MESSAGES; sent += 500) {
    const batch = Array.from({ length: 500 }, (_, i) => ({ n: sent + i, text: 'the quick brown fox jumps over the lazy dog' }))
    expect((await fetch(url(path), { method: 'POST', headers: json, body: JSON.stringify(batch) })).status).toBe(204)
  }
  if (close) expect((await fetch(url(path), { method: 'POST', headers: { 'stream-closed': 'true' } })).status).toBe(204)
}

/** One reader's catch-up from -1: every page until Stream-Up-To-Date; the messages it got and the pages. */
async function catchUp(path: string): Promise<{ messages: number, pages: number }> {
  let offset = '-1'
  let messages = 0
  for (let pages = 1; ; pages++) {
    const response = await fetch(url(path, `?offset=${offset}`))
    expect(response.status).toBe(200)
    messages += (await response.json() as unknown[]).length
    offset = response.headers.get('stream-next-offset')!
    if (response.headers.get('stream-up-to-date') === 'true') return { messages, pages }
  }
}

describe('nginx in front of two instances', () => {
  it('is deploy/nginx.conf, the template filled in for two local instances', () => {
    expect(readFileSync('deploy/nginx.conf', 'utf8')).toBe(renderNginxConfig('8080', ['127.0.0.1:3001', '127.0.0.1:3002']))
  })

  it(`collapses ${READERS} concurrent readers catching up from offset -1 on a finished stream into a handful of origin reads`, async () => {
    await fill('collapse/closed', true)
    const before = originRequests('collapse/closed', line => line.includes('GET'))
    const readers = await Promise.all(Array.from({ length: READERS }, () => catchUp('collapse/closed')))
    for (const reader of readers) expect(reader.messages).toBe(MESSAGES)
    const pages = readers[0]!.pages
    const origin = originRequests('collapse/closed', line => line.includes('GET')) - before
    console.info(`[nginx] ${READERS} readers × ${pages} pages of a closed stream (${MESSAGES} messages): ${READERS * pages} reads, ${origin} reached an instance`)
    expect(origin).toBeLessThanOrEqual(2 * pages)
  })

  it('on a live stream collapses every page but the tail page, which each reader gets fresh from an instance', async () => {
    await fill('collapse/open', false)
    const readers = await Promise.all(Array.from({ length: READERS }, () => catchUp('collapse/open')))
    for (const reader of readers) expect(reader.messages).toBe(MESSAGES)
    const pages = readers[0]!.pages
    const history = originRequests('collapse/open', line => line.includes('offset=-1 '))
    const all = originRequests('collapse/open', line => line.includes('GET'))
    console.info(`[nginx] ${READERS} readers × ${pages} pages of a live stream: ${history} origin reads of the first page, ${all - history} of the tail page`)
    expect(pages).toBeGreaterThan(1)
    expect(history).toBeLessThanOrEqual(2)
  })

  it('collapses long-polls waiting at one offset and cursor into one request to an instance', async () => {
    expect((await fetch(url('collapse/long-poll'), { method: 'PUT', headers: json, body: '[{"n":0}]' })).status).toBe(201)
    const first = await fetch(url('collapse/long-poll', '?offset=-1&live=long-poll'))
    const offset = first.headers.get('stream-next-offset')!
    const cursor = first.headers.get('stream-cursor')!
    await first.arrayBuffer()
    const before = originRequests('collapse/long-poll', line => line.includes('live=long-poll'))
    const waiting = Array.from({ length: 100 }, () => fetch(url('collapse/long-poll', `?offset=${offset}&live=long-poll&cursor=${cursor}`)))
    // Once nginx holds them all, one append answers every one of them.
    await new Promise(resolve => setTimeout(resolve, 500))
    expect((await fetch(url('collapse/long-poll'), { method: 'POST', headers: json, body: '{"n":1}' })).status).toBe(204)
    const bodies = await Promise.all(waiting.map(async response => (await response).json()))
    for (const body of bodies) expect(body).toEqual([{ n: 1 }])
    const origin = originRequests('collapse/long-poll', line => line.includes('live=long-poll')) - before
    console.info(`[nginx] 100 long-polls at one offset and cursor: ${origin} reached an instance`)
    expect(origin).toBeLessThanOrEqual(3)
  })

  it('passes SSE through unbuffered: an append reaches a reader through nginx as it happens', async () => {
    expect((await fetch(url('collapse/sse'), { method: 'PUT', headers: json })).status).toBe(201)
    const received: unknown[] = []
    const reader = new StreamFollower(url('collapse/sse'), { mode: 'sse', offset: '-1', onBatch: items => received.push(...items) }).start()
    try {
      await reader.until(() => reader.controls > 0, 'the SSE reader is live through nginx')
      expect((await fetch(url('collapse/sse'), { method: 'POST', headers: json, body: '{"live":true}' })).status).toBe(204)
      // Well before nginx's buffers or the 60 s connection cycle would hand it over.
      await reader.until(() => received.length === 1, 'the append arrives through nginx', 10_000)
      expect(received).toEqual([{ live: true }])
    }
    finally {
      reader.stop()
    }
  })
})
