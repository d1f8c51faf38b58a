import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import type { TestServer } from './server'
import { api, streamMessages } from './sessions'
import type { ChangeMessage } from './sessions'

/** Helpers for tests of @durable-sessions/agent (the SDK and the terminal bridge). */

/** The session's change messages of one type (`chunk`, `tool`, `terminal`, `workflow`, `state`). */
export async function messagesOfType(server: TestServer, sessionId: string, type: string): Promise<ChangeMessage[]> {
  return (await streamMessages(server, `sessions/${sessionId}`)).filter(message => message.type === type)
}

/** Posts terminal input as a collaborator would from the viewer. */
export async function typeAsCollaborator(server: TestServer, sessionId: string, collaboratorKey: string, data: string): Promise<void> {
  const response = await api(server, 'POST', `/api/sessions/${sessionId}/events`, {
    json: { channel: 'terminal', data: { type: 'input', source: 'user', data } },
    headers: { 'x-collaborator-key': collaboratorKey },
  })
  if (response.status !== 200) throw new Error(`input answered ${response.status}: ${response.text}`)
}

/** The collaborator key inside a collaborate link. */
export function keyOf(collaborateUrl: string | undefined): string {
  const key = collaborateUrl ? new URL(collaborateUrl).searchParams.get('key') : null
  if (!key) throw new Error(`no collaborator key in ${collaborateUrl}`)
  return key
}

/**
 * The real fetch, counting the event POSTs it carries and their acknowledgements. `onAck` runs
 * after each acknowledged one (a test may kill the server from there).
 */
export function countingFetch(onAck?: (acks: number) => void) {
  const counts = { posts: 0, acks: 0 }
  const fetchImpl: typeof fetch = async (input, init) => {
    const isEvents = init?.method === 'POST' && String(input).endsWith('/events')
    if (isEvents) counts.posts++
    const response = await fetch(input, init)
    if (isEvents && response.ok) onAck?.(++counts.acks)
    return response
  }
  return { fetch: fetchImpl, counts }
}

export const BRIDGE_BIN = resolve('packages/agent/bin/durable-sessions.mjs')

export interface BridgeRun {
  child: ChildProcess
  /** What the bridge printed to stdout (the program's output) and stderr (its own messages). */
  readonly stdout: string
  readonly stderr: string
  exited: Promise<number | null>
}

/** Starts `durable-sessions run <args>` (the built bin) as its own process, with pipes, no TTY. */
export function runBridge(args: string[], env: Record<string, string> = {}): BridgeRun {
  const child = spawn(process.execPath, [BRIDGE_BIN, 'run', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = new Promise<number | null>(done => child.once('exit', code => done(code)))
  return {
    child,
    get stdout() { return stdout },
    get stderr() { return stderr },
    exited,
  }
}

export interface CountingProxy {
  url: string
  /** Event POSTs that passed through. */
  readonly eventPosts: number
  close: () => Promise<void>
}

/**
 * A plain HTTP proxy in front of a test server that counts the event POSTs passing through, for
 * measuring how a separate process (the bridge) batches its writes.
 */
export async function countingProxy(target: TestServer): Promise<CountingProxy> {
  let eventPosts = 0
  const upstream = new URL(target.url)
  const proxy = createServer((req, res) => {
    if (req.method === 'POST' && req.url?.endsWith('/events')) eventPosts++
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    forward.on('error', () => res.destroy())
    req.pipe(forward)
  })
  await new Promise<void>(done => proxy.listen(0, '127.0.0.1', done))
  const { port } = proxy.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    get eventPosts() { return eventPosts },
    close: () => new Promise<void>((done) => {
      proxy.closeAllConnections()
      proxy.close(() => done())
    }),
  }
}
