import { randomBytes } from 'node:crypto'
import { startNginx } from '../../tests/support/nginx'
import { StreamClient, appRequest } from './client'
import type { SseReader } from './client'
import { sleep } from './processes'
import type { Target } from './servers'
import { cpuMeter, median, readRss, round, summarize } from './stats'

const uniquePath = (name: string) => `bench/${name}-${randomBytes(4).toString('hex')}`
const PER_POST = 100

/** A small chat-like JSON message (≈ 70 bytes). */
const smallMessage = (seq: number) => ({ type: 'token', seq, text: 'the quick brown fox jumps over the lazy dog' })

// ---------------------------------------------------------------------------------------------
// 1 and 2: append throughput
// ---------------------------------------------------------------------------------------------

export interface AppendResult {
  writers: number
  messagesPerPost: number
  seconds: number
  posts: number
  postsPerSec: number
  messagesPerSec: number
  errors: number
  serverCpuPct: number
  clientCpuPct: number
  otherCpuPct: number
}

/**
 * `writers` concurrent loops, each POSTing as soon as its previous POST answered (closed loop),
 * to one application/json stream: a warm-up, then a measured window. Bodies are prepared up
 * front so the client spends its time on HTTP, not on JSON.stringify.
 */
export async function appendThroughput(target: Target, options: { writers: number, messagesPerPost: number, warmupMs: number, durationMs: number }): Promise<AppendResult> {
  const client = new StreamClient(target.origin)
  const path = uniquePath(`append-${options.messagesPerPost}`)
  await client.create(path)
  const bodies = Array.from({ length: 256 }, (_, i) => options.messagesPerPost === 1
    ? JSON.stringify(smallMessage(i))
    : JSON.stringify(Array.from({ length: options.messagesPerPost }, (_, j) => smallMessage(i * options.messagesPerPost + j))))
  let next = 0
  const runFor = async (ms: number) => {
    const stopAt = performance.now() + ms
    let posts = 0
    let errors = 0
    await Promise.all(Array.from({ length: options.writers }, async () => {
      while (performance.now() < stopAt) {
        const status = await client.append(path, bodies[next++ % bodies.length]!)
        if (status === 204 || status === 200) posts++
        else errors++
      }
    }))
    return { posts, errors }
  }
  await runFor(options.warmupMs)
  const meter = cpuMeter(target.pid)
  const started = performance.now()
  const { posts, errors } = await runFor(options.durationMs)
  const seconds = (performance.now() - started) / 1000
  return {
    writers: options.writers,
    messagesPerPost: options.messagesPerPost,
    seconds: round(seconds, 2),
    posts,
    postsPerSec: round(posts / seconds),
    messagesPerSec: round((posts * options.messagesPerPost) / seconds),
    errors,
    ...meter(),
  }
}

// ---------------------------------------------------------------------------------------------
// 3 and 5: append → SSE delivery latency, fan-out, RSS
// ---------------------------------------------------------------------------------------------

export interface FanoutResult {
  subscribers: number
  connected: number
  connectSeconds: number
  /** Messages the writer sent (fewer than planned when the server could not keep the rate). */
  messages: number
  ratePerSec: number
  achievedRatePerSec: number
  writeErrors: number
  latencyMs: ReturnType<typeof summarize>
  /** Every subscriber received every message exactly once. */
  allDelivered: boolean
  delivered: number
  expected: number
  subscribersComplete: number
  minPerSubscriber: number
  duplicates: number
  readerErrors: number
  drainTimedOut: boolean
  serverCpuPct: number
  clientCpuPct: number
  otherCpuPct: number
  /** Server memory with all subscribers still connected, right after the last delivery. */
  rss?: { rssMb: number, peakRssMb: number }
  /** Server memory a second after the subscribers left. */
  rssAfterClose?: { rssMb: number, peakRssMb: number }
}

/**
 * `subscribers` SSE readers on one stream, all opened at its tail offset (from HEAD, so none can
 * miss a message however late it connects) and confirmed registered (first control event)
 * before a single writer appends `messages` timestamped messages at `ratePerSec`.
 * Latency = arrival of the event's bytes at a reader − the moment the writer issued the POST,
 * both on this process's performance.now() clock.
 */
export async function fanout(target: Target, options: { subscribers: number, messages: number, ratePerSec: number, drainTimeoutMs: number }): Promise<FanoutResult> {
  const client = new StreamClient(target.origin)
  // Subscribers on the other instance, when there is one: the append crosses instances.
  const subscribing = new StreamClient(target.readOrigin ?? target.origin)
  const path = uniquePath(`fanout-${options.subscribers}`)
  await client.create(path)
  const tail = await client.tail(path)
  const { subscribers, messages } = options
  const seen = Array.from({ length: subscribers }, () => new Uint8Array(messages))
  const counts = new Int32Array(subscribers)
  const latencies: number[] = []
  let duplicates = 0
  let delivered = 0

  const onData = (index: number) => (payload: string, receivedAt: number) => {
    const parsed = JSON.parse(payload) as unknown
    for (const message of (Array.isArray(parsed) ? parsed : [parsed]) as Array<{ seq: number, t: number }>) {
      const mine = seen[index]!
      if (mine[message.seq]) {
        duplicates++
        continue
      }
      mine[message.seq] = 1
      counts[index]!++
      delivered++
      latencies.push(receivedAt - message.t)
    }
  }

  // Connect in batches: a thousand simultaneous SYNs would overflow the listen backlog and
  // measure TCP retransmits rather than the server.
  const readers: SseReader[] = []
  const connectStarted = performance.now()
  const BATCH = 50
  for (let first = 0; first < subscribers; first += BATCH) {
    const batch: SseReader[] = []
    for (let i = first; i < Math.min(subscribers, first + BATCH); i++) batch.push(subscribing.subscribe(path, tail, onData(i)))
    readers.push(...batch)
    await Promise.race([Promise.allSettled(batch.map(reader => reader.ready)), sleep(20_000)])
  }
  const connectSeconds = round((performance.now() - connectStarted) / 1000, 2)
  const connected = readers.filter(reader => !reader.ended && !reader.error).length

  try {
    const meter = cpuMeter(target.pid)
    const interval = 1000 / options.ratePerSec
    const pad = 'x'.repeat(64)
    const writeStarted = performance.now()
    // The writer waits for each POST's answer before the next; a server slower than the rate
    // stretches the run, so writing stops after twice the planned time and `sent` tells.
    const writeUntil = writeStarted + 2 * messages * interval
    let writeErrors = 0
    let sent = 0
    for (let seq = 0; seq < messages && performance.now() < writeUntil; seq++) {
      const wait = writeStarted + seq * interval - performance.now()
      if (wait > 0) await sleep(wait)
      const t = performance.now()
      const status = await client.append(path, JSON.stringify({ seq, t, pad }))
      sent++
      if (status !== 204 && status !== 200) writeErrors++
    }
    const writeSeconds = (performance.now() - writeStarted) / 1000
    const expected = subscribers * sent
    const drainDeadline = performance.now() + options.drainTimeoutMs
    while (delivered < expected && performance.now() < drainDeadline && readers.some(reader => !reader.ended)) await sleep(10)
    const drainTimedOut = delivered < expected && performance.now() >= drainDeadline
    const cpu = meter()
    const rss = readRss(target.pid)
    let minPerSubscriber = sent
    let subscribersComplete = 0
    for (const count of counts) {
      minPerSubscriber = Math.min(minPerSubscriber, count)
      if (count === sent) subscribersComplete++
    }
    const result: FanoutResult = {
      subscribers,
      connected,
      connectSeconds,
      messages: sent,
      ratePerSec: options.ratePerSec,
      achievedRatePerSec: round(sent / writeSeconds, 1),
      writeErrors,
      latencyMs: summarize(latencies),
      allDelivered: sent > 0 && connected === subscribers && subscribersComplete === subscribers && duplicates === 0 && writeErrors === 0,
      delivered,
      expected,
      subscribersComplete,
      minPerSubscriber,
      duplicates,
      readerErrors: readers.filter(reader => reader.error).length,
      drainTimedOut,
      ...cpu,
      rss,
    }
    for (const reader of readers) reader.close()
    await sleep(1000)
    result.rssAfterClose = readRss(target.pid)
    return result
  }
  finally {
    for (const reader of readers) reader.close()
  }
}

// ---------------------------------------------------------------------------------------------
// 4: catch-up read
// ---------------------------------------------------------------------------------------------

export interface CatchUpResult {
  messages: number
  requestsPerRead: number
  bytes: number
  /** Each measured read, msgs/s. */
  runs: number[]
  /** The median run. */
  messagesPerSec: number
  bestMessagesPerSec: number
  fillSeconds: number
  serverCpuPct: number
  clientCpuPct: number
  otherCpuPct: number
}

/**
 * Fills a JSON stream with `total` messages (100-message POSTs, 2 writers), then reads it from
 * offset -1, following Stream-Next-Offset until Stream-Up-To-Date, parsing every body and
 * counting its messages. One warm-up read, then `repeats` measured reads; the median counts (robust to a stray pause).
 */
export async function catchUp(target: Target, options: { total: number, repeats: number, onReadsStart?: () => void }): Promise<CatchUpResult> {
  const client = new StreamClient(target.origin)
  const path = uniquePath('catchup')
  const fillStarted = performance.now()
  await fillStream(client, path, options.total)
  const fillSeconds = round((performance.now() - fillStarted) / 1000, 2)
  const readAll = () => readStream(client, path)

  options.onReadsStart?.()
  const warm = await readAll()
  if (warm.messages !== options.total) throw new Error(`catch-up read ${warm.messages} messages, expected ${options.total}`)
  const runs: number[] = []
  const meter = cpuMeter(target.pid)
  for (let i = 0; i < options.repeats; i++) {
    const started = performance.now()
    const { messages } = await readAll()
    runs.push(round(messages / ((performance.now() - started) / 1000)))
  }
  return { messages: warm.messages, requestsPerRead: warm.requests, bytes: warm.bytes, runs, messagesPerSec: median(runs), bestMessagesPerSec: Math.max(...runs), fillSeconds, ...meter() }
}

/** Creates `path` and appends `total` small messages in 100-message POSTs, 2 writers. */
async function fillStream(client: StreamClient, path: string, total: number): Promise<void> {
  await client.create(path)
  let nextPost = 0
  await Promise.all(Array.from({ length: 2 }, async () => {
    for (let post = nextPost++; post < total / PER_POST; post = nextPost++) {
      const body = JSON.stringify(Array.from({ length: PER_POST }, (_, j) => smallMessage(post * PER_POST + j)))
      const status = await client.append(path, body)
      if (status !== 204 && status !== 200) throw new Error(`fill ${path}: HTTP ${status}`)
    }
  }))
}

/** A catch-up read from -1, following Stream-Next-Offset until Stream-Up-To-Date, parsing every page. */
async function readStream(client: StreamClient, path: string): Promise<{ messages: number, requests: number, bytes: number }> {
  let offset = '-1'
  let messages = 0
  let requests = 0
  let bytes = 0
  for (;;) {
    const res = await client.read(path, offset)
    if (res.status !== 200) throw new Error(`catch-up read at ${offset}: HTTP ${res.status}`)
    requests++
    bytes += res.body.length
    messages += (JSON.parse(res.body) as unknown[]).length
    if (!res.nextOffset) throw new Error('catch-up read: no Stream-Next-Offset')
    offset = res.nextOffset
    if (res.upToDate) return { messages, requests, bytes }
    if (requests > 10_000) throw new Error('catch-up read never reached Stream-Up-To-Date')
  }
}

// ---------------------------------------------------------------------------------------------
// nginx in front (PostgreSQL, two instances): request collapsing
// ---------------------------------------------------------------------------------------------

export interface CollapseResult {
  readers: number
  messages: number
  pagesPerReader: number
  /** Page reads the readers made through nginx… */
  pageReads: number
  /** …and how many of them reached an instance (nginx's access log). */
  originReads: number
  seconds: number
}

/**
 * deploy/nginx.conf.template in front of the instances; a finished (closed) stream of 20,000
 * messages; `readers` concurrent readers each catch up from -1 through nginx.
 */
export async function nginxCollapse(target: Target, options: { readers: number, total: number }): Promise<CollapseResult> {
  const nginx = await startNginx(target.origins)
  try {
    const client = new StreamClient(nginx.url)
    const path = uniquePath('collapse')
    await fillStream(client, path, options.total)
    await client.close(path)
    const originReads = () => nginx.accessLog().filter(line => line.includes(`GET /v1/stream/${path}`) && !/upstream=- /.test(line)).length
    const before = originReads()
    const started = performance.now()
    const reads = await Promise.all(Array.from({ length: options.readers }, () => readStream(client, path)))
    const seconds = round((performance.now() - started) / 1000, 2)
    if (reads.some(read => read.messages !== options.total)) throw new Error('a reader through nginx did not get every message')
    return {
      readers: options.readers,
      messages: options.total,
      pagesPerReader: reads[0]!.requests,
      pageReads: reads.reduce((sum, read) => sum + read.requests, 0),
      originReads: originReads() - before,
      seconds,
    }
  }
  finally {
    await nginx.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// 6: SSR of session pages holding 1,000, 10,000 and 100,000 events, and of the 404 page (ours only)
// ---------------------------------------------------------------------------------------------

export interface SsrTiming {
  events: number
  requests: number
  p50Ms: number
  p99Ms: number
  /** Bytes of the page's HTML (uncompressed). */
  htmlBytes: number
}

export interface SsrResult {
  sessions: SsrTiming[]
  /** The app's 404 page in the same run: the floor a page render costs here. */
  notFound: SsrTiming
  /** The og:image of the 10,000-event session, rendered anew after each of SSR_REQUESTS new events. */
  ogImage: { requests: number, p50Ms: number, p99Ms: number }
}

export const SSR_SESSION_EVENTS = [1_000, 10_000, 100_000] as const
const SSR_EVENTS_PER_POST = 100
const SSR_WARMUP_REQUESTS = 3
const SSR_REQUESTS = 21

/**
 * Sessions like long agent runs — 70% streamed text chunks, 20% terminal lines, 10% tool calls —
 * written through the session API in 100-event POSTs; then each page (the full server-rendered
 * HTML, including the serialised state it hydrates from) is fetched repeatedly, the pages in
 * turn so that every size sees the same load, with the 404 page among them.
 */
export async function sessionPageSsr(target: Target): Promise<SsrResult> {
  const { origin } = target
  const sessions: LongSession[] = []
  for (const events of SSR_SESSION_EVENTS) sessions.push(await longSession(origin, events))
  const urls = [...sessions.map(session => session.url), '/no-such-page']
  const times = urls.map(() => [] as number[])
  const bytes = urls.map(() => 0)
  for (let i = 0; i < SSR_WARMUP_REQUESTS + SSR_REQUESTS; i++) {
    for (const [at, url] of urls.entries()) {
      const started = performance.now()
      const page = await appRequest(`${origin}${url}`)
      const elapsed = performance.now() - started
      const expected = at < SSR_SESSION_EVENTS.length ? 200 : 404
      if (page.status !== expected) throw new Error(`GET ${url}: HTTP ${page.status}`)
      bytes[at] = Buffer.byteLength(page.body)
      if (i >= SSR_WARMUP_REQUESTS) times[at]!.push(elapsed)
    }
  }
  const timing = (at: number, events: number): SsrTiming => {
    const { p50, p99 } = summarize(times[at]!)
    return { events, requests: times[at]!.length, p50Ms: p50, p99Ms: p99, htmlBytes: bytes[at]! }
  }
  return {
    sessions: SSR_SESSION_EVENTS.map((events, at) => timing(at, events)),
    notFound: timing(SSR_SESSION_EVENTS.length, 0),
    ogImage: await ogImageRenders(origin, sessions[1]!),
  }
}

/** og:image requests, each after a new event (so each renders: cards are cached by offset). */
async function ogImageRenders(origin: string, session: LongSession): Promise<SsrResult['ogImage']> {
  const times: number[] = []
  for (let i = 0; i < SSR_WARMUP_REQUESTS + SSR_REQUESTS; i++) {
    const event = { channel: 'chunks', data: { agentId: session.agentId, text: `og token ${i} `, turn: 10_000 } }
    const posted = await appRequest(`${origin}/api/sessions/${session.id}/events`, { method: 'POST', headers: session.headers, body: JSON.stringify(event) })
    if (posted.status !== 200) throw new Error(`post event: HTTP ${posted.status} ${posted.body}`)
    const started = performance.now()
    const image = await appRequest(`${origin}/api/sessions/${session.id}/og.png`)
    const elapsed = performance.now() - started
    if (image.status !== 200) throw new Error(`og.png: HTTP ${image.status}`)
    if (i >= SSR_WARMUP_REQUESTS) times.push(elapsed)
  }
  const { p50, p99 } = summarize(times)
  return { requests: times.length, p50Ms: p50, p99Ms: p99 }
}

interface LongSession {
  id: string
  agentId: string
  url: string
  /** The agent's: JSON and its token. */
  headers: Record<string, string>
}

/** A session of `count` events. */
async function longSession(origin: string, count: number): Promise<LongSession> {
  const json = { 'content-type': 'application/json' }
  const created = await appRequest(`${origin}/api/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ title: `SSR benchmark, ${count} events`, agentId: `bench-agent-${count}` }) })
  if (created.status !== 201) throw new Error(`create session: HTTP ${created.status}`)
  const { id, agentToken, url, agentId } = JSON.parse(created.body) as { id: string, agentToken: string, url: string, agentId: string }
  const headers = { ...json, authorization: `Bearer ${agentToken}` }
  for (let sent = 0; sent < count; sent += SSR_EVENTS_PER_POST) {
    const events = Array.from({ length: Math.min(SSR_EVENTS_PER_POST, count - sent) }, (_, i) => sessionEvent(agentId, sent + i))
    const posted = await appRequest(`${origin}/api/sessions/${id}/events`, { method: 'POST', headers, body: JSON.stringify(events) })
    if (posted.status !== 200) throw new Error(`post events: HTTP ${posted.status} ${posted.body}`)
  }
  return { id, agentId, url, headers }
}

function sessionEvent(agentId: string, n: number): unknown {
  const kind = n % 10
  if (kind < 7) return { channel: 'chunks', data: { agentId, text: `token ${n} `, turn: Math.floor(n / 200) } }
  if (kind < 9) return { channel: 'terminal', data: { type: 'output', source: 'agent', data: `\u001B[32m✓\u001B[39m line ${n}` } }
  return { channel: 'toolCalls', data: { agentId, tool: 'read_file', input: { path: `src/file-${n}.ts` }, status: 'complete', output: { lines: n % 300 }, duration: n % 900 } }
}
