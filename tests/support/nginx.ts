import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { freePort } from './ports'

/** Debian's nginx (.ci/run installs it); NGINX_PATH points elsewhere. */
const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx'
const TEMPLATE = resolve('deploy/nginx.conf.template')

/** deploy/nginx.conf.template filled in: `listen` and one `server` line per instance. */
export function renderNginxConfig(listen: string, upstreams: string[]): string {
  const servers = upstreams.map(upstream => `        server ${upstream};`).join('\n')
  return readFileSync(TEMPLATE, 'utf8').replaceAll('{{listen}}', listen).replaceAll('{{servers}}', servers)
}

export interface TestNginx {
  url: string
  /** Lines of the access log so far (format `durable` of the template). */
  accessLog: () => string[]
  stop: () => Promise<void>
}

/** The shipped configuration, run by a real nginx in front of `origins` (http://host:port). */
export async function startNginx(origins: string[]): Promise<TestNginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'ds-nginx-'))
  // nginx's workers drop root: they must be able to write their cache, temp files and logs.
  chmodSync(prefix, 0o777)
  for (const dir of ['logs', 'temp', 'cache']) {
    mkdirSync(join(prefix, dir))
    chmodSync(join(prefix, dir), 0o777)
  }
  const port = await freePort()
  const config = join(prefix, 'nginx.conf')
  writeFileSync(config, renderNginxConfig(`127.0.0.1:${port}`, origins.map(origin => new URL(origin).host)))
  const child: ChildProcess = spawn(NGINX, ['-p', prefix, '-c', config, '-e', 'logs/error.log', '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  await waitForPort(port, () => child.exitCode !== null, () => `${output}${readLog(join(prefix, 'logs', 'error.log'))}`)
  return {
    url: `http://127.0.0.1:${port}`,
    accessLog: () => readLog(join(prefix, 'logs', 'access.log')).split('\n').filter(Boolean),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise(done => child.once('exit', done))
        child.kill('SIGQUIT')
        await exited
      }
      rmSync(prefix, { recursive: true, force: true })
    },
  }
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  }
  catch {
    return ''
  }
}

async function waitForPort(port: number, exited: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`nginx exited during start:\n${output()}`)
    if (await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1', () => { socket.end(); done(true) })
      socket.on('error', () => done(false))
    })) return
    await new Promise(done => setTimeout(done, 50))
  }
  throw new Error(`nginx did not listen:\n${output()}`)
}
