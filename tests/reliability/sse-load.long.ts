import { writeFileSync } from 'node:fs'
import { afterAll, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import { memoryKiB, rssKiB } from '../support/faults'
import { connectInspector } from '../support/inspector'
import type { Inspector, MemoryUsage } from '../support/inspector'
import { SequenceHash, itemToken, spawnSubscribers } from '../support/load-subscribers'
import type { GroupResult, SubscriberGroup } from '../support/load-subscribers'
import type { TestServer } from '../support/server'
import { api, as, createSession, startSessionServer } from '../support/sessions'
import { readAll, streamUrl } from '../support/streams'

/**
 * Load: LOAD_SUBSCRIBERS SSE readers (default 1000) follow one session stream from its tail
 * while LOAD_WRITERS agents (default 5) write to it through the session API for LOAD_SECONDS
 * (default 60). Every reader must receive every message exactly once and in stream order —
 * across the server's 60-second SSE cycling, from its own offset — with no error anywhere, and
 * the server's memory must stay flat. Not part of `npm test`: `npm run test:load`.
 *
 * The readers run in LOAD_PROCESSES child processes (default 4), like independent clients.
 * LOAD_WRITE_INTERVAL_MS (default 100) paces each writer; each write carries 1–3 events.
 * LOAD_EVENTS=updates (default): tool-call progress updates to a fixed set of tool calls, so
 * the stream grows (on disk) while the session's state stays the same size — any growth in
 * memory is the server's. LOAD_EVENTS=lines: new terminal lines, so the materialised state
 * (held in memory for snapshots and SSR) grows with every event, as a real session does.
 * Quick local run: LOAD_SUBSCRIBERS=100 LOAD_SECONDS=10 npm run test:load
 * LOAD_SERVER_NODE_OPTIONS goes to the server process; LOAD_SERVER_LOG saves its output.
 */

const SUBSCRIBERS = Number(process.env.LOAD_SUBSCRIBERS ?? 1000)
const PROCESSES = Math.min(SUBSCRIBERS, Number(process.env.LOAD_PROCESSES ?? 4))
const WRITERS = Number(process.env.LOAD_WRITERS ?? 5)
const SECONDS = Number(process.env.LOAD_SECONDS ?? 60)
const WRITE_INTERVAL_MS = Number(process.env.LOAD_WRITE_INTERVAL_MS ?? 100)
const EVENTS = process.env.LOAD_EVENTS === 'lines' ? 'lines' : 'updates'
/** Memory is compared from the end of the warm-up (JIT, buffers, caches) to the end of the run. */
const WARM_UP_S = Math.min(10, Math.floor(SECONDS / 3))
/** Latency is sampled on every LATENCY_EVERY-th reader, to keep the readers' own work small. */
const LATENCY_EVERY = 20


let server: TestServer | undefined
let inspector: Inspector | undefined
const groups: SubscriberGroup[] = []
afterAll(async () => {
  inspector?.close()
  for (const group of groups) group.kill()
  await server?.stop()
})

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`

it(`${SUBSCRIBERS} SSE subscribers and ${WRITERS} writers for ${SECONDS} s on one session: every message to every subscriber, no errors, flat RSS`, async () => {
  // The inspector (on a free loopback port) lets the test force a full GC and read the heap.
  server = await startSessionServer({ env: { NODE_OPTIONS: `--inspect=127.0.0.1:0 ${process.env.LOAD_SERVER_NODE_OPTIONS ?? ''}`.trim() } })
  inspector = await connectInspector(() => server!.log)
  const session: CreatedSession = await createSession(server, { title: 'load' })
  const from = session.tailOffset!
  const url = streamUrl(server, `sessions/${session.id}`)

  for (let g = 0; g < PROCESSES; g++) {
    const count = Math.floor(SUBSCRIBERS / PROCESSES) + (g < SUBSCRIBERS % PROCESSES ? 1 : 0)
    groups.push(spawnSubscribers({ url, offset: from, count, latencyEvery: LATENCY_EVERY }))
  }
  await Promise.all(groups.map(group => group.live))
  const rssStart = rssKiB(server.pid)
  const rssSamples: Array<[number, number]> = [[0, rssStart]]
  console.info(`[load] ${SUBSCRIBERS} subscribers live in ${PROCESSES} processes; server RSS ${mib(rssStart)}`)

  // Writers: the agent, from several places at once, through the session API.
  const started = Date.now()
  const writeErrors: string[] = []
  let posts = 0
  let events = 0
  const writers = Array.from({ length: WRITERS }, async (_, w) => {
    for (let n = 0; Date.now() - started < SECONDS * 1000; n++) {
      const count = 1 + (n % 3)
      const text = (k: number) => `writer ${w} ${EVENTS === 'lines' ? 'line' : 'update'} ${n}.${k} ${'·'.repeat(40)} @${Date.now()}`
      const batch = Array.from({ length: count }, (__, k) => EVENTS === 'lines'
        ? { channel: 'terminal', data: { id: `w${w}-${n}-${k}`, type: 'output', source: 'agent', data: text(k) } }
        : { channel: 'toolCalls', data: { id: `w${w}-tool-${k}`, agentId: session.agentId, tool: 'bash', input: { cmd: 'make test' }, status: 'running', output: text(k) } })
      const tick = Date.now()
      const response = await api(server!, 'POST', `/api/sessions/${session.id}/events`, { json: batch, headers: as('agent', session, server!) })
      if (response.status !== 200) writeErrors.push(`writer ${w} #${n}: ${response.status} ${response.text.slice(0, 200)}`)
      posts++
      events += count
      await new Promise(resolve => setTimeout(resolve, Math.max(0, WRITE_INTERVAL_MS - (Date.now() - tick))))
    }
  })
  let heapAfterWarmUp: MemoryUsage | undefined
  const warmUp = setTimeout(async () => { heapAfterWarmUp = await inspector!.memoryAfterGc() }, WARM_UP_S * 1000)
  const sampler = setInterval(() => {
    const memory = memoryKiB(server!.pid)
    rssSamples.push([Math.round((Date.now() - started) / 1000), memory.rss])
    if (process.env.LOAD_DEBUG) console.info(`[load] ${Math.round((Date.now() - started) / 1000)} s: ${JSON.stringify(memory)}`)
  }, Math.min(5000, WARM_UP_S * 1000 || 1000))
  await Promise.all(writers)
  clearInterval(sampler)
  clearTimeout(warmUp)
  const writeSeconds = (Date.now() - started) / 1000

  // What the stream holds, read once by catch-up: the sequence every subscriber must have.
  const stored = await readAll(server, `sessions/${session.id}`, from)
  const expected = new SequenceHash()
  for (const item of stored.messages as Array<Parameters<typeof itemToken>[0]>) expected.add(itemToken(item))
  const results: GroupResult[] = await Promise.all(groups.map(group => group.finish(stored.nextOffset!, 120_000)))
  const caughtUp = (Date.now() - started) / 1000
  const rssEnd = rssKiB(server.pid)
  rssSamples.push([Math.round(caughtUp), rssEnd])
  const heapEnd = await inspector!.memoryAfterGc()
  if (process.env.LOAD_SERVER_LOG) writeFileSync(process.env.LOAD_SERVER_LOG, server.log)

  const hashes = results.flatMap(r => r.hashes)
  const failures = results.flatMap(r => r.failures)
  const networkErrors = results.reduce((sum, r) => sum + r.networkErrors, 0)
  const reconnects = results.reduce((sum, r) => sum + r.reconnects, 0)
  const latencies = results.flatMap(r => r.latencies).sort((a, b) => a - b)
  const wrong = hashes.filter(hash => hash !== expected.value).length
  const rssAfterWarmUp = rssSamples.find(([t]) => t >= WARM_UP_S)?.[1] ?? rssStart
  console.info(`[load] ${WRITERS} writers, ${writeSeconds.toFixed(1)} s: ${posts} POSTs, ${events} events (${EVENTS}, ${(events / writeSeconds).toFixed(0)}/s); `
    + `stored ${stored.messages.length}; ${hashes.length} subscribers, ${hashes.length - wrong} with every message once and in order, ${wrong} not; `
    + `${hashes.length * stored.messages.length} deliveries; all caught up ${(caughtUp - writeSeconds).toFixed(1)} s after the last write; `
    + `reconnects ${reconnects} (SSE cycling), network errors ${networkErrors}, failures ${failures.length}, write errors ${writeErrors.length}; `
    + `append→delivery p50 ${percentile(latencies, 0.5)} ms, p99 ${percentile(latencies, 0.99)} ms, max ${latencies.at(-1)} ms (${latencies.length} samples)`)
  const heapGrowth = heapEnd.heapUsed - (heapAfterWarmUp?.heapUsed ?? Number.NaN)
  const externalGrowth = heapEnd.external + heapEnd.arrayBuffers - (heapAfterWarmUp ? heapAfterWarmUp.external + heapAfterWarmUp.arrayBuffers : Number.NaN)
  const mb = (bytes: number) => mib(bytes / 1024)
  console.info(`[load] server RSS (/proc/${server.pid}/status VmRSS): start ${mib(rssStart)}, after ${WARM_UP_S} s ${mib(rssAfterWarmUp)}, end ${mib(rssEnd)}; `
    + `samples ${rssSamples.map(([t, kib]) => `${t}s=${mib(kib)}`).join(' ')}`)
  console.info(`[load] server heap after a full GC: after ${WARM_UP_S} s ${mb(heapAfterWarmUp?.heapUsed ?? Number.NaN)} used `
    + `(+ ${mb((heapAfterWarmUp?.external ?? Number.NaN) + (heapAfterWarmUp?.arrayBuffers ?? Number.NaN))} external), `
    + `end ${mb(heapEnd.heapUsed)} used (+ ${mb(heapEnd.external + heapEnd.arrayBuffers)} external): ${heapGrowth >= 0 ? '+' : ''}${mb(heapGrowth)} heap, `
    + `${externalGrowth >= 0 ? '+' : ''}${mb(externalGrowth)} external`)

  expect(writeErrors).toEqual([])
  expect(failures).toEqual([])
  expect(networkErrors).toBe(0)
  expect(hashes).toHaveLength(SUBSCRIBERS)
  expect(stored.messages.length).toBe(events)
  expect(wrong).toBe(0)
  // Flat: what the server holds after a full GC does not grow with time, messages or reconnects
  // (updates keep the session's state the same size; lines grow it, as they should). RSS gets a
  // looser bound: it also carries V8's young-generation resize (a one-time step of up to ~64 MiB)
  // and garbage not yet collected.
  expect(heapAfterWarmUp, 'heap measured after the warm-up').toBeDefined()
  if (EVENTS === 'updates') {
    expect(heapGrowth, 'heap growth after a full GC').toBeLessThan(8 * 1024 * 1024)
    expect(externalGrowth, 'external memory growth after a full GC').toBeLessThan(8 * 1024 * 1024)
  }
  expect(rssEnd - rssAfterWarmUp, `RSS grew from ${mib(rssAfterWarmUp)} to ${mib(rssEnd)}`).toBeLessThan(128 * 1024)
}, (SECONDS + 240) * 1000)
