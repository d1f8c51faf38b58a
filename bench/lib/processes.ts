import { spawn } from 'node:child_process'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Every child process and temp dir the harness creates is registered here, so that a normal
 * end, an exception, or Ctrl-C (SIGINT/SIGTERM/SIGHUP) all stop the children and delete the dirs.
 */
export interface ManagedChild {
  name: string
  proc: ChildProcess
  pid: number
  /** The last lines the child printed (for diagnosing a failed start). */
  output: string[]
  exited: Promise<number | null>
  hasExited: () => boolean
  exitCode: () => number | null | undefined
}

const children = new Set<ManagedChild>()
const tempDirs = new Set<string>()
const OUTPUT_LINES_KEPT = 200

export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

export function spawnManaged(name: string, command: string, args: string[], options: SpawnOptions & { echo?: boolean } = {}): ManagedChild {
  const proc = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] })
  if (proc.pid === undefined) throw new Error(`could not start ${name}`)
  const output: string[] = []
  const collect = (stream: NodeJS.ReadableStream | null, sink: NodeJS.WriteStream) => {
    let partial = ''
    stream?.setEncoding('utf8')
    stream?.on('data', (chunk: string) => {
      if (options.echo) sink.write(chunk)
      const lines = (partial + chunk).split('\n')
      partial = lines.pop() ?? ''
      output.push(...lines)
      if (output.length > OUTPUT_LINES_KEPT) output.splice(0, output.length - OUTPUT_LINES_KEPT)
    })
  }
  collect(proc.stdout, process.stdout)
  collect(proc.stderr, process.stderr)
  let done = false
  let code: number | null | undefined
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (exitCode, signal) => {
      done = true
      code = exitCode ?? (signal ? -1 : null)
      children.delete(child)
      resolve(code)
    })
    proc.once('error', () => {
      done = true
      code = -1
      children.delete(child)
      resolve(-1)
    })
  })
  const child: ManagedChild = { name, proc, pid: proc.pid, output, exited, hasExited: () => done, exitCode: () => code }
  children.add(child)
  return child
}

/** SIGTERM (a graceful stop, which also lets `--cpu-prof` write its profile), then SIGKILL. */
export async function stopChild(child: ManagedChild, graceMs = 10_000): Promise<void> {
  if (child.hasExited()) return
  child.proc.stdin?.end()
  child.proc.kill('SIGTERM')
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs)
  await child.exited
  clearTimeout(timer)
}

export async function cleanupAll(): Promise<void> {
  await Promise.all([...children].map(child => stopChild(child, 3000)))
  for (const dir of [...tempDirs]) removeTempDir(dir)
}

let installed = false

export function installCleanupHandlers(): void {
  if (installed) return
  installed = true
  // Last resort on any exit path: nothing may outlive the harness.
  process.on('exit', () => {
    for (const child of children) child.proc.kill('SIGKILL')
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  })
  let interrupted = false
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (interrupted) process.exit(130) // second Ctrl-C: the exit hook SIGKILLs what is left
      interrupted = true
      console.error(`\n[bench] ${signal}: stopping servers and removing temp dirs…`)
      void cleanupAll().finally(() => process.exit(130))
    })
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}
