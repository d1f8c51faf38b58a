import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { Agent } from 'node:http'
import { fileURLToPath } from 'node:url'
import { StreamFollower } from './follow'

/**
 * SSE subscribers for load tests, run in child processes of their own — as real clients are —
 * so the test process neither competes with them nor stalls them all at once with its pauses.
 * Each subscriber folds what it receives (key and text of every message) into a SequenceHash;
 * equal hashes mean the same messages in the same order. The parent talks to a group over IPC: `spawnSubscribers`.
 */

/** A running hash of keys in order (two 32-bit FNV-1a lanes) and their count. */
export class SequenceHash {
  count = 0
  private a = 0x811C9DC5
  private b = 0x01000193
  add(key: string): void {
    this.count++
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i)
      this.a = Math.imul(this.a ^ c, 0x01000193) >>> 0
      this.b = Math.imul(this.b ^ c, 0x5BD1E995) >>> 0
    }
    this.a = Math.imul(this.a ^ 0xFF, 0x01000193) >>> 0
    this.b = Math.imul(this.b ^ 0xFF, 0x5BD1E995) >>> 0
  }

  get value(): string {
    return `${this.count}:${this.a.toString(16)}:${this.b.toString(16)}`
  }
}

export interface GroupOptions {
  /** The stream URL, followed by SSE from `offset`. */
  url: string
  offset: string
  count: number
  /** Every n-th subscriber records append→delivery latency (from `@<ms>` at the end of each item's text). */
  latencyEvery: number
}

export interface GroupResult {
  hashes: string[]
  failures: string[]
  networkErrors: number
  reconnects: number
  latencies: number[]
}

type ToChild = { type: 'finish', offset: string, timeoutMs: number }
type FromChild = { type: 'live' } | { type: 'result', result: GroupResult } | { type: 'error', message: string }

interface LoadItem {
  key: string
  value?: { data?: unknown, output?: unknown }
}

/** What identifies a load-test message: its key and its text (terminal data or tool output). */
export function itemToken(item: LoadItem): string {
  const text = item.value?.output ?? item.value?.data
  return `${item.key}|${typeof text === 'string' ? text : ''}`
}

export interface SubscriberGroup {
  /** Resolves when every subscriber of the group has its first control event. */
  live: Promise<void>
  /** Waits until every subscriber has reached `offset`, then collects the results and ends the process. */
  finish(offset: string, timeoutMs: number): Promise<GroupResult>
  kill(): void
}

/** Starts `options.count` subscribers in a child process (Node with tsx, like the test runner). */
export function spawnSubscribers(options: GroupOptions): SubscriberGroup {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  let resolveLive!: () => void
  let rejectLive!: (error: Error) => void
  const live = new Promise<void>((resolve, reject) => { resolveLive = resolve; rejectLive = reject })
  let settleResult: ((result: GroupResult) => void) | undefined
  let failResult: ((error: Error) => void) | undefined
  child.on('message', (message: FromChild) => {
    if (message.type === 'live') resolveLive()
    else if (message.type === 'result') settleResult?.(message.result)
    else if (failResult) failResult(new Error(message.message))
    else rejectLive(new Error(message.message))
  })
  child.on('exit', (code) => {
    const error = new Error(`subscriber process exited with ${code}`)
    rejectLive(error)
    failResult?.(error)
  })
  return {
    live,
    finish(offset, timeoutMs) {
      return new Promise((resolve, reject) => {
        settleResult = resolve
        failResult = reject
        child.send({ type: 'finish', offset, timeoutMs } satisfies ToChild)
      })
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL')
    },
  }
}

/** The child: runs the group and answers the parent. */
function runGroup(options: GroupOptions): void {
  const send = (message: FromChild) => process.send!(message)
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY })
  const hashes: SequenceHash[] = []
  const latencies: number[] = []
  const followers: StreamFollower[] = []
  let started = 0
  // Connected in waves, so the server's listen backlog is never what is being measured.
  const startWave = () => {
    for (const end = Math.min(options.count, started + 50); started < end; started++) {
      const hash = new SequenceHash()
      const sampled = started % options.latencyEvery === 0
      hashes.push(hash)
      followers.push(new StreamFollower(options.url, {
        mode: 'sse',
        offset: options.offset,
        agent,
        retryDelayMs: 100,
        onBatch: (items) => {
          const now = Date.now()
          for (const item of items as LoadItem[]) {
            const token = itemToken(item)
            hash.add(token)
            if (sampled) latencies.push(now - Number(token.slice(token.lastIndexOf('@') + 1)))
          }
        },
      }).start())
    }
    if (started < options.count) setTimeout(startWave, 25)
  }
  startWave()
  const waitLive = setInterval(() => {
    if (followers.length === options.count && followers.every(f => f.controls > 0)) {
      clearInterval(waitLive)
      send({ type: 'live' })
    }
  }, 20)

  process.on('message', async (message: ToChild) => {
    if (message.type !== 'finish') return
    try {
      await Promise.all(followers.map(f => f.until(() => f.offset === message.offset, 'the subscriber has everything', message.timeoutMs)))
      for (const follower of followers) follower.stop()
      send({
        type: 'result',
        result: {
          hashes: hashes.map(hash => hash.value),
          failures: followers.flatMap(f => f.failures),
          networkErrors: followers.reduce((sum, f) => sum + f.networkErrors, 0),
          reconnects: followers.reduce((sum, f) => sum + f.reconnects, 0),
          latencies,
        },
      })
    }
    catch (error) {
      send({ type: 'error', message: (error as Error).message })
    }
    setTimeout(() => process.exit(0), 100)
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) runGroup(JSON.parse(process.argv[2]!) as GroupOptions)
