import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { get } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { freePort } from './ports'
import { createTestDatabase } from './postgres'

/** The built server (`npm run build`), started as a real process on a free port. */
export interface TestServer {
  url: string
  dataDir: string
  /**
   * The bearer token writes need: the configured one, or — when started with
   * `NUXT_DURABLE_SESSIONS_STREAMS_TOKEN: ''` — the one the server generated into `<dataDir>/server-token`.
   */
  readonly token: string
  /** Output the process has printed so far. */
  readonly log: string
  /** Process id of the current server process (changes on restart); for /proc figures such as RSS. */
  readonly pid: number
  /** SIGKILL: no shutdown hooks, no flush — the crash case. */
  kill(): Promise<void>
  /** SIGTERM: graceful shutdown. */
  stop(): Promise<void>
  /** A new process on the same data dir and port. */
  restart(): Promise<void>
}

export interface StartOptions {
  env?: Record<string, string>
  dataDir?: string
  /** The built server to start. Default: this app's (TEST_SERVER_ENTRY, else .output/server/index.mjs). */
  entry?: string
}

/** The build under test; TEST_SERVER_ENTRY points elsewhere, e.g. at a copy kept apart from rebuilds. */
const ENTRY = resolve(process.env.TEST_SERVER_ENTRY ?? '.output/server/index.mjs')

export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  // TEST_BACKEND=postgres runs every server test on a fresh PostgreSQL database instead of SQLite.
  const database = process.env.TEST_BACKEND === 'postgres' && !options.env?.NUXT_DURABLE_SESSIONS_DATABASE_URL ? { NUXT_DURABLE_SESSIONS_DATABASE_URL: await createTestDatabase() } : {}
  const port = await freePort()
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'ds-test-'))
  const configuredToken = options.env?.NUXT_DURABLE_SESSIONS_STREAMS_TOKEN ?? `test-token-${port}`
  const url = `http://127.0.0.1:${port}`
  let child: ChildProcess
  let log = ''

  const launch = async () => {
    child = spawn(process.execPath, [options.entry ? resolve(options.entry) : ENTRY], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        NUXT_DURABLE_SESSIONS_DATA_DIR: dataDir,
        NUXT_DURABLE_SESSIONS_STREAMS_TOKEN: configuredToken,
        ...database,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout!.on('data', (chunk: Buffer) => { log += chunk.toString() })
    child.stderr!.on('data', (chunk: Buffer) => { log += chunk.toString() })
    await waitUntilHealthy(url, () => child.exitCode !== null, () => log)
  }
  const exited = () => new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done()
    else child.once('exit', () => done())
  })

  await launch()
  return {
    url,
    dataDir,
    get token() { return configuredToken || generatedToken(dataDir) },
    get log() { return log },
    get pid() { return child.pid! },
    async kill() {
      child.kill('SIGKILL')
      await exited()
    },
    async stop() {
      child.kill('SIGTERM')
      await exited()
    },
    async restart() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await exited()
      }
      await launch()
    },
  }
}

/** Where a server started without NUXT_DURABLE_SESSIONS_STREAMS_TOKEN keeps the token it generated. */
export function serverTokenFile(dataDir: string): string {
  return join(dataDir, 'server-token')
}

function generatedToken(dataDir: string): string {
  const file = serverTokenFile(dataDir)
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : ''
}

async function waitUntilHealthy(url: string, hasExited: () => boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error(`Server exited during start:\n${log()}`)
    try {
      if (await healthy(`${url}/api/health`)) return
    }
    catch {
      // not listening yet
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`Server did not become healthy:\n${log()}`)
}

/**
 * The probe uses node:http, not the global fetch: a test environment may replace that (happy-dom's
 * enforces CORS against its page origin and logs every refused connection while the server starts).
 */
function healthy(url: string): Promise<boolean> {
  return new Promise((resolveProbe) => {
    const request = get(url, (response) => {
      response.resume()
      resolveProbe(response.statusCode === 200)
    })
    request.on('error', () => resolveProbe(false))
  })
}
