import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { startEmbeddedPostgres } from '../../tests/support/embedded-postgres'
import { freePort, makeTempDir, removeTempDir, sleep, spawnManaged, stopChild } from './processes'
import type { ManagedChild } from './processes'

export const ROOT = resolve(import.meta.dirname, '..', '..')
const SERVER_ENTRY = join(ROOT, '.output', 'server', 'index.mjs')
/** What the built server is made of; a newer file here means `.output` is stale. */
const BUILD_INPUTS = [
  'server', 'shared', 'pages', 'components', 'composables', 'stores', 'layouts', 'plugins',
  'middleware', 'assets', 'public', 'utils', 'app.vue', 'error.vue', 'nuxt.config.ts',
]
/** Every protocol URL, on our server and on the reference (which serves a stream at any path). */
export const STREAM_PREFIX = '/v1/stream/'

export type TargetKey = 'ours' | 'oursPg' | 'refFile' | 'refMemory'

export const TARGET_LABELS: Record<TargetKey, string> = {
  ours: 'ours',
  oursPg: 'ours, PostgreSQL, 2 instances',
  refFile: 'reference file-backed',
  refMemory: 'reference in-memory',
}

export interface Target {
  key: TargetKey
  label: string
  /** http://127.0.0.1:<port> */
  origin: string
  /** Where SSE subscribers connect, when not `origin` (PostgreSQL: the other instance). */
  readOrigin?: string
  /** Every instance (PostgreSQL: both), for an nginx in front of them. */
  origins: string[]
  /** Pid of the server process itself (not a wrapper), for /proc RSS and CPU. */
  pid: number
  child: ManagedChild
  stop: () => Promise<void>
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  let newest = stat.mtimeMs
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue
    newest = Math.max(newest, newestMtime(join(path, entry)))
  }
  return newest
}

/** Runs `nuxt build` when `.output/server/index.mjs` is missing or older than any build input. */
export async function ensureBuilt(force: boolean): Promise<{ built: boolean, reason: string, seconds: number }> {
  const builtAt = existsSync(SERVER_ENTRY) ? statSync(SERVER_ENTRY).mtimeMs : 0
  const stale = BUILD_INPUTS.find(input => newestMtime(join(ROOT, input)) > builtAt)
  if (!force && builtAt > 0 && !stale) return { built: false, reason: '.output is up to date', seconds: 0 }
  const reason = force ? '--build given' : builtAt === 0 ? '.output/server/index.mjs is missing' : `${stale} changed since the last build`
  console.log(`[bench] building (${reason}) …`)
  const started = performance.now()
  // The nuxt CLI under this process's Node (the project's Node 24), not whatever `node` is on PATH.
  const build = spawnManaged('nuxt build', process.execPath, [join(ROOT, 'node_modules', '.bin', 'nuxt'), 'build'], { cwd: ROOT })
  const code = await build.exited
  if (code !== 0) {
    console.error(build.output.slice(-60).join('\n'))
    throw new Error(`nuxt build failed (exit ${code})`)
  }
  return { built: true, reason, seconds: Math.round((performance.now() - started) / 100) / 10 }
}

/**
 * A private copy of `.output`, taken once per run. Others may rebuild `.output` while the
 * benchmark runs (a build empties the directory first, and Nitro loads route chunks lazily),
 * which would crash or change our server mid-run; the copy is the same build, immune to that.
 */
export async function snapshotBuild(keepIn?: string): Promise<string> {
  const buildDate = () => {
    try {
      return (JSON.parse(readFileSync(join(ROOT, '.output', 'nitro.json'), 'utf8')) as { date?: string }).date
    }
    catch {
      return undefined
    }
  }
  for (let attempt = 1; ; attempt++) {
    // With --cpu-prof the copy stays next to the profiles: its .map files resolve their frames.
    const dir = keepIn ?? makeTempDir('bench-build-')
    if (keepIn) {
      rmSync(keepIn, { recursive: true, force: true })
      mkdirSync(keepIn, { recursive: true })
    }
    try {
      // nitro.json is written last: the same build date before and after the copy, and a copy
      // holding it, means no build ran in between.
      const before = buildDate()
      if (!before) throw new Error('.output/nitro.json is missing (a build in progress?)')
      cpSync(join(ROOT, '.output'), join(dir, 'output'), { recursive: true })
      const entry = join(dir, 'output', 'server', 'index.mjs')
      if (buildDate() !== before || !existsSync(entry) || !existsSync(join(dir, 'output', 'nitro.json')))
        throw new Error('.output changed while it was copied (a build in progress?)')
      return entry
    }
    catch (error) {
      if (keepIn) rmSync(keepIn, { recursive: true, force: true })
      else removeTempDir(dir)
      if (attempt >= 10) throw error
      console.log(`[bench] copying .output failed (${error instanceof Error ? error.message : error}); retrying …`)
      await sleep(3000)
    }
  }
}

async function waitUntil(child: ManagedChild, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (child.hasExited()) throw new Error(`${child.name} exited (code ${child.exitCode()}) during start:\n${child.output.slice(-40).join('\n')}`)
    if (await ready().catch(() => false)) return
    await sleep(100)
  }
  throw new Error(`${child.name} was not ready within ${timeoutMs} ms:\n${child.output.slice(-40).join('\n')}`)
}

/** Environment without inherited NUXT_/NITRO_ settings, so every run uses the server's defaults. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('NUXT_') && !key.startsWith('NITRO_')) env[key] = value
  }
  return env
}

/**
 * Our built server: `node .output/server/index.mjs` on a free port with a fresh data dir.
 * NUXT_DURABLE_SESSIONS_STREAMS_AUTH=off only lifts the write-token check (and the agent rate limit is lifted), NUXT_DURABLE_SESSIONS_SEED_DEMO=false keeps the
 * demo agent (which would otherwise write to a demo session throughout the run) out of the
 * measurement, and the live-read caps are lifted: every subscriber of the harness comes from
 * one address. Durability settings (NUXT_DURABLE_SESSIONS_SQLITE_SYNCHRONOUS) stay at their defaults.
 */
export async function startOurs(options: { entry?: string, cpuProfDir?: string } = {}): Promise<Target> {
  const instance = await startInstance(options, {})
  return {
    key: 'ours',
    label: TARGET_LABELS.ours,
    origin: instance.origin,
    origins: [instance.origin],
    pid: instance.child.pid,
    child: instance.child,
    stop: instance.stop,
  }
}

/**
 * Our built server on PostgreSQL (embedded-postgres in a fresh directory, default durability):
 * two instances on one database, writers on the first and SSE subscribers on the second, so a
 * live read crosses instances (LISTEN/NOTIFY). CPU and RSS are the first instance's; the
 * database and the second instance count as "other processes" in the noise figures.
 */
export async function startOursPostgres(options: { entry?: string } = {}): Promise<Target> {
  const postgres = await startEmbeddedPostgres()
  const env = { NUXT_DURABLE_SESSIONS_DATABASE_URL: postgres.url, NUXT_DURABLE_SESSIONS_STREAMS_TOKEN: 'bench-token' }
  const started: Array<Awaited<ReturnType<typeof startInstance>>> = []
  try {
    started.push(await startInstance(options, env))
    started.push(await startInstance(options, env))
  }
  catch (error) {
    for (const instance of started) await instance.stop()
    await postgres.stop()
    throw error
  }
  const [writer, reader] = started as [typeof started[0], typeof started[0]]
  return {
    key: 'oursPg',
    label: TARGET_LABELS.oursPg,
    origin: writer.origin,
    readOrigin: reader.origin,
    origins: [writer.origin, reader.origin],
    pid: writer.child.pid,
    child: writer.child,
    stop: async () => {
      await Promise.all(started.map(instance => instance.stop()))
      await postgres.stop()
    },
  }
}

async function startInstance(options: { entry?: string, cpuProfDir?: string }, env: Record<string, string>): Promise<{ origin: string, child: ManagedChild, stop: () => Promise<void> }> {
  const port = await freePort()
  const dataDir = makeTempDir('bench-ours-')
  const args: string[] = []
  if (options.cpuProfDir) {
    mkdirSync(options.cpuProfDir, { recursive: true })
    args.push('--cpu-prof', '--cpu-prof-dir', options.cpuProfDir)
  }
  args.push(options.entry ?? SERVER_ENTRY)
  const child = spawnManaged('our server', process.execPath, args, {
    cwd: ROOT,
    env: {
      ...cleanEnv(),
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      NUXT_DURABLE_SESSIONS_DATA_DIR: dataDir,
      NUXT_DURABLE_SESSIONS_STREAMS_AUTH: 'off',
      NUXT_DURABLE_SESSIONS_SEED_DEMO: 'false',
      // The agent workloads measure the session API, not the per-token write limit (500/s).
      NUXT_DURABLE_SESSIONS_RATE_LIMIT_AGENT_PER_SECOND: '1000000',
      NUXT_DURABLE_SESSIONS_RATE_LIMIT_AGENT_BURST: '1000000',
      // Every subscriber of the harness comes from one address.
      NUXT_DURABLE_SESSIONS_STREAMS_MAX_LIVE_READS_PER_CLIENT: '100000',
      NUXT_DURABLE_SESSIONS_STREAMS_MAX_LIVE_READS: '100000',
      ...env,
    },
  })
  const origin = `http://127.0.0.1:${port}`
  try {
    await waitUntil(child, async () => (await fetch(`${origin}/api/health`)).ok, 30_000)
  }
  catch (error) {
    await stopChild(child)
    removeTempDir(dataDir)
    throw error
  }
  return {
    origin,
    child,
    // Generous grace: a --cpu-prof profile is written during the graceful exit.
    stop: async () => {
      await stopChild(child, 30_000)
      removeTempDir(dataDir)
    },
  }
}

/** The reference server, file-backed in a fresh temp dir or in-memory, in its own process. */
export async function startReference(fileBacked: boolean): Promise<Target> {
  const key: TargetKey = fileBacked ? 'refFile' : 'refMemory'
  const port = await freePort()
  const dataDir = fileBacked ? makeTempDir('bench-ref-') : undefined
  const args = [join(ROOT, 'bench', 'reference-server.mjs'), '--port', String(port)]
  if (dataDir) args.push('--data-dir', dataDir)
  const child = spawnManaged(TARGET_LABELS[key], process.execPath, args, { cwd: ROOT, env: { ...cleanEnv(), NODE_ENV: 'production' } })
  const origin = `http://127.0.0.1:${port}`
  try {
    await waitUntil(child, async () => child.output.some(line => line.startsWith('READY ')), 30_000)
  }
  catch (error) {
    await stopChild(child)
    if (dataDir) removeTempDir(dataDir)
    throw error
  }
  return {
    key,
    label: TARGET_LABELS[key],
    origin,
    origins: [origin],
    pid: child.pid,
    child,
    stop: async () => {
      await stopChild(child)
      if (dataDir) removeTempDir(dataDir)
    },
  }
}
