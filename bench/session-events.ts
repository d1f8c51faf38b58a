/**
 * The figure of the session API: events/s that POST /api/sessions/:id/events accepts from 8
 * concurrent writers, each sending one event per request with the agent token, for ~10 s.
 *
 *   npx nuxt build && npm run bench:events
 *
 * Options (environment): BENCH_SECONDS (10), BENCH_WRITERS (8), BENCH_WARMUP_SECONDS (1),
 * BENCH_SESSIONS=shared|per-writer (shared: every writer appends to one session, the contended case).
 * Starts the built server (.output) through the test harness on a fresh data dir, with the
 * harness's session defaults: no seeded demo and the per-client rate limits lifted, so the figure
 * is the endpoint's capacity (by default one agent token may send 500 requests/s, burst 1000).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { CreatedSession } from '../shared/sessions/api'
import { startSessionServer } from '../tests/support/sessions'
import { readAll } from '../tests/support/streams'
import { round, summarize } from './lib/stats'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const WRITERS = Number(process.env.BENCH_WRITERS ?? 8)
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1)
const SESSIONS = process.env.BENCH_SESSIONS === 'per-writer' ? 'per-writer' : 'shared'

async function main(): Promise<void> {
  const entry = resolve(process.env.TEST_SERVER_ENTRY ?? '.output/server/index.mjs')
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npx nuxt build\` first (from the project root)`)

  const dataDir = mkdtempSync(join(tmpdir(), 'bench-events-'))
  const server = await startSessionServer({ dataDir })
  try {
    const create = async (n: number): Promise<CreatedSession> => {
      const response = await fetch(`${server.url}/api/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title: `bench ${n}`, agentId: `bench-agent-${n}` }),
      })
      if (response.status !== 201) throw new Error(`create answered ${response.status}: ${await response.text()}`)
      return response.json() as Promise<CreatedSession>
    }
    const shared = SESSIONS === 'shared' ? await create(0) : undefined
    const sessions = await Promise.all(Array.from({ length: WRITERS }, (_, n) => shared ?? create(n)))

    let phase: 'warmup' | 'measure' | 'done' = 'warmup'
    const latencies: number[] = []
    let accepted = 0
    let sent = 0
    const failures = new Map<string, number>()

    const writer = async (session: CreatedSession, n: number) => {
      const url = `${server.url}/api/sessions/${session.id}/events`
      const headers = { 'content-type': 'application/json', 'authorization': `Bearer ${session.agentToken}` }
      for (let i = 0; phase !== 'done'; i++) {
        const body = JSON.stringify({ channel: 'chunks', data: { agentId: session.agentId, text: `writer ${n} token ${i} `, turn: n } })
        const started = performance.now()
        const response = await fetch(url, { method: 'POST', headers, body })
        await response.arrayBuffer()
        const elapsed = performance.now() - started
        sent++
        if (response.status !== 200) {
          failures.set(String(response.status), (failures.get(String(response.status)) ?? 0) + 1)
          continue
        }
        if (phase === 'measure') {
          accepted++
          latencies.push(elapsed)
        }
      }
    }

    console.log(`POST /api/sessions/:id/events — ${WRITERS} concurrent writers, single-event requests, agent token, ` +
      `${SESSIONS === 'shared' ? 'one shared session' : 'one session per writer'}; ${WARMUP_SECONDS} s warm-up, ${SECONDS} s measured`)
    const running = sessions.map((session, n) => writer(session, n))
    await new Promise(done => setTimeout(done, WARMUP_SECONDS * 1000))
    phase = 'measure'
    const measureStart = performance.now()
    await new Promise(done => setTimeout(done, SECONDS * 1000))
    const measured = (performance.now() - measureStart) / 1000
    phase = 'done'
    await Promise.all(running)

    // Sanity: every accepted write is on the streams, once.
    let stored = 0
    for (const session of new Set(sessions)) stored += (await readAll(server, `sessions/${session.id}`)).messages.length
    const okCount = sent - [...failures.values()].reduce((a, b) => a + b, 0)

    const stats = summarize(latencies)
    const eventsPerSecond = round(accepted / measured)
    console.log(`events/s accepted: ${eventsPerSecond}`)
    console.log(`request latency ms: p50 ${stats.p50}, p99 ${stats.p99}, max ${stats.max} (${stats.count} requests)`)
    console.log(`stored events: ${stored} of ${okCount} accepted; failures: ${failures.size ? JSON.stringify(Object.fromEntries(failures)) : 'none'}`)
    console.log(JSON.stringify({ figure: 'session-events', writers: WRITERS, sessions: SESSIONS, seconds: round(measured, 2), eventsPerSecond, p50Ms: stats.p50, p99Ms: stats.p99 }))
    if (stored !== okCount || failures.size > 0) process.exitCode = 1
  }
  finally {
    await server.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
