/**
 * Lighthouse (mobile profile, Debian's Chromium) on a session page of the built server.
 *
 *   npx nuxt build && npm run lighthouse
 *
 * Starts `.output` on a fresh data dir, writes a session of LIGHTHOUSE_EVENTS events (default
 * 1,000: messages, terminal lines, tool calls), runs Lighthouse LIGHTHOUSE_RUNS times (default 3;
 * its score moves between runs on a shared machine) and prints each run and the median run (by
 * performance score): the four category scores, FCP, LCP, TBT, CLS, the JavaScript sent (bytes on
 * the wire and decoded) and Lighthouse's unused-JavaScript estimate. Reports go to
 * bench/results/lighthouse-<n>.json.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import type { CreatedSession } from '../shared/sessions/api'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../tests/support/browser'
import { startSessionServer } from '../tests/support/sessions'

const RUNS = Number(process.env.LIGHTHOUSE_RUNS ?? 3)
const EVENTS = Number(process.env.LIGHTHOUSE_EVENTS ?? 1_000)
const RESULTS = resolve('bench/results')
const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'] as const

interface Run {
  scores: Record<typeof CATEGORIES[number], number>
  fcpMs: number
  lcpMs: number
  tbtMs: number
  cls: number
  /** Scripts as sent (compressed) and decoded. */
  jsTransferBytes: number
  jsDecodedBytes: number
  unusedJsBytes: number
}

interface LighthouseReport {
  categories: Record<string, { score: number | null }>
  audits: Record<string, { numericValue?: number, details?: { items?: Array<Record<string, unknown>>, overallSavingsBytes?: number } }>
}

function sessionEvents(agentId: string, count: number): unknown[] {
  return Array.from({ length: count }, (_, n) => {
    const kind = n % 10
    if (kind < 7) return { channel: 'chunks', data: { agentId, text: `token ${n} `, turn: Math.floor(n / 100) } }
    if (kind < 9) return { channel: 'terminal', data: { type: 'output', source: 'agent', data: `\u001B[32m✓\u001B[39m line ${n}` } }
    return { channel: 'toolCalls', data: { agentId, tool: 'read_file', input: { path: `src/file-${n}.ts` }, status: 'complete', output: { lines: n % 300 } } }
  })
}

async function createLongSession(origin: string): Promise<CreatedSession> {
  const created = await fetch(`${origin}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Lighthouse: a long session' }) })
  if (created.status !== 201) throw new Error(`create session: HTTP ${created.status}`)
  const session = await created.json() as CreatedSession
  const events = sessionEvents(session.agentId, EVENTS)
  for (let at = 0; at < events.length; at += 500) {
    const posted = await fetch(`${origin}/api/sessions/${session.id}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'authorization': `Bearer ${session.agentToken}` },
      body: JSON.stringify(events.slice(at, at + 500)),
    })
    if (posted.status !== 200) throw new Error(`post events: HTTP ${posted.status} ${await posted.text()}`)
  }
  return session
}

async function lighthouse(url: string, output: string): Promise<Run> {
  await promisify(execFile)('lighthouse', [
    url,
    '--output=json',
    `--output-path=${output}`,
    `--chrome-path=${CHROMIUM_PATH}`,
    `--chrome-flags=${CHROMIUM_ARGS.join(' ')}`,
    `--only-categories=${CATEGORIES.join(',')}`,
    '--quiet',
  ], { maxBuffer: 64 * 1024 * 1024 })
  const report = JSON.parse(readFileSync(output, 'utf8')) as LighthouseReport
  const scripts = (report.audits['network-requests']?.details?.items ?? []).filter(item => item.resourceType === 'Script')
  const sum = (key: string) => scripts.reduce((total, item) => total + (Number(item[key]) || 0), 0)
  return {
    scores: Object.fromEntries(CATEGORIES.map(category => [category, Math.round((report.categories[category]?.score ?? 0) * 100)])) as Run['scores'],
    fcpMs: report.audits['first-contentful-paint']?.numericValue ?? Number.NaN,
    lcpMs: report.audits['largest-contentful-paint']?.numericValue ?? Number.NaN,
    tbtMs: report.audits['total-blocking-time']?.numericValue ?? Number.NaN,
    cls: report.audits['cumulative-layout-shift']?.numericValue ?? Number.NaN,
    jsTransferBytes: sum('transferSize'),
    jsDecodedBytes: sum('resourceSize'),
    unusedJsBytes: report.audits['unused-javascript']?.details?.overallSavingsBytes ?? 0,
  }
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
const line = (run: Run) => [
  ...CATEGORIES.map(category => `${category} ${run.scores[category]}`),
  `FCP ${Math.round(run.fcpMs)} ms`,
  `LCP ${Math.round(run.lcpMs)} ms`,
  `TBT ${Math.round(run.tbtMs)} ms`,
  `CLS ${run.cls.toFixed(3)}`,
  `JS sent ${kb(run.jsTransferBytes)} (${kb(run.jsDecodedBytes)} decoded, ${kb(run.unusedJsBytes)} unused)`,
].join(' · ')

async function main(): Promise<void> {
  if (!existsSync(resolve('.output/server/index.mjs'))) throw new Error('.output is missing: run `npx nuxt build` first')
  mkdirSync(RESULTS, { recursive: true })
  const dataDir = mkdtempSync(join(tmpdir(), 'lighthouse-'))
  const server = await startSessionServer({ dataDir })
  try {
    const session = await createLongSession(server.url)
    const url = `${server.url}/sessions/${session.id}`
    console.log(`Lighthouse, mobile profile, ${RUNS} runs: ${url} (${EVENTS} events)`)
    const runs: Run[] = []
    for (let n = 1; n <= RUNS; n++) {
      const run = await lighthouse(url, join(RESULTS, `lighthouse-${n}.json`))
      runs.push(run)
      console.log(`run ${n}: ${line(run)}`)
    }
    const median = [...runs].sort((a, b) => a.scores.performance - b.scores.performance)[Math.floor(runs.length / 2)]!
    console.log(`median: ${line(median)}`)
  }
  finally {
    await server.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
