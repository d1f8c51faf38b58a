import { resolve } from 'node:path'
import { createSession } from '@durable-sessions/agent'
import { ROOT } from './servers'
import type { Target } from './servers'
import { spawnManaged } from './processes'
import { cpuMeter, round } from './stats'

/**
 * Workloads of @durable-sessions/agent against our server (the session API, not the protocol):
 * what an agent gets from the SDK one event at a time and batched, and what the terminal bridge
 * mirrors from a chatty program.
 */

export interface SdkResult {
  /** `await text(); await flush()` in a loop: one request per event, one at a time. */
  oneAtATimePerSec: number
  /** `await text()` in a loop (the SDK batches and pipelines), until flush(): acknowledged events/s. */
  batchedPerSec: number
  serverCpuPct: number
  otherCpuPct: number
}

export interface BridgeResult {
  megabytes: number
  /** From starting `durable-sessions run` to its exit, which waits until the last line is acknowledged. */
  seconds: number
  mbPerSec: number
  otherCpuPct: number
}

const BRIDGE_LINES = 40_000
const BRIDGE_LINE_BYTES = 500
const BRIDGE_BIN = resolve(ROOT, 'packages/agent/bin/durable-sessions.mjs')

export async function sdkEvents(target: Target, options: { warmupMs: number, durationMs: number }): Promise<SdkResult> {
  const session = await createSession({ server: target.origin, title: 'SDK benchmark' })
  const meter = cpuMeter(target.pid)
  const oneAtATime = async (ms: number) => {
    let events = 0
    const end = performance.now() + ms
    while (performance.now() < end) {
      await session.text(`token ${events} `)
      await session.flush()
      events++
    }
    return events
  }
  await oneAtATime(options.warmupMs)
  const singleStart = performance.now()
  const single = await oneAtATime(options.durationMs)
  const singleSeconds = (performance.now() - singleStart) / 1000

  let batched = 0
  const batchedStart = performance.now()
  const end = batchedStart + options.durationMs
  while (performance.now() < end) {
    // Resolves at once while the queue has room; waits (back-pressure) when the server falls behind.
    await session.text(`token ${batched} `)
    batched++
  }
  await session.flush()
  const batchedSeconds = (performance.now() - batchedStart) / 1000
  const cpu = meter()
  await session.close()
  return {
    oneAtATimePerSec: round(single / singleSeconds),
    batchedPerSec: round(batched / batchedSeconds),
    serverCpuPct: cpu.serverCpuPct,
    otherCpuPct: cpu.otherCpuPct,
  }
}

export async function bridgeThroughput(target: Target): Promise<BridgeResult> {
  const program = `for (let i = 0; i < ${BRIDGE_LINES}; i++) process.stdout.write('x'.repeat(${BRIDGE_LINE_BYTES - 1}) + '\\n')`
  const meter = cpuMeter(target.pid)
  const started = performance.now()
  const child = spawnManaged('bridge', process.execPath, [BRIDGE_BIN, 'run', '--server', target.origin, '--', process.execPath, '-e', program], { cwd: ROOT })
  const code = await child.exited
  const seconds = (performance.now() - started) / 1000
  if (code !== 0) throw new Error(`the bridge exited with ${code}: ${child.output.slice(-5).join('\n')}`)
  const megabytes = BRIDGE_LINES * BRIDGE_LINE_BYTES / 1e6
  return { megabytes, seconds: round(seconds, 2), mbPerSec: round(megabytes / seconds, 2), otherCpuPct: meter().otherCpuPct }
}
