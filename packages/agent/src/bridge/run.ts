import { writeFileSync } from 'node:fs'
import { constants } from 'node:os'
import { spawn } from '@lydell/node-pty'
import type { IPty } from '@lydell/node-pty'
import { attachSession, createSession } from '../session'
import type { AgentSession, ConnectionOptions } from '../session'
import { KeyboardLines } from './keyboard-lines'
import { TerminalMirror, formatBytes } from './terminal-mirror'

export interface BridgeOptions {
  server: string
  title?: string
  /** With `token`: publish to this existing session instead of creating one. */
  sessionId?: string
  token?: string
  /** Also write `{id, url, collaborateUrl, agentToken}` here (mode 0600: it holds the token). */
  linksFile?: string
  /** Leave the session open when the program exits. */
  keepOpen?: boolean
  command: string
  args: string[]
  stdin?: NodeJS.ReadStream
  stdout?: NodeJS.WriteStream
  stderr?: NodeJS.WriteStream
  fetch?: typeof globalThis.fetch
}

/** Size of the pseudo-terminal when the bridge has no terminal of its own to copy it from. */
const DEFAULT_SIZE = { cols: 120, rows: 30 }
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/**
 * Runs a command in a pseudo-terminal and mirrors it into a session: its output goes to the
 * local terminal unchanged and to the session's terminal channel; collaborators' input from the
 * viewer goes to its stdin; the agent state follows the process. Resolves with the exit code to
 * exit with (the program's, or 128 + signal).
 */
export async function runBridge(options: BridgeOptions): Promise<number> {
  const stdin = options.stdin ?? process.stdin
  const stdout = options.stdout ?? process.stdout
  const stderr = options.stderr ?? process.stderr
  const say = (message: string) => stderr.write(`durable-sessions: ${message}\n`)
  let offline = false
  const connection: ConnectionOptions = {
    server: options.server,
    fetch: options.fetch,
    // Output is batched for a little longer than an SDK default: fewer, fuller requests.
    batchDelayMs: 10,
    onRetry: ({ error, attempt }) => {
      if (attempt !== 1 || offline) return
      offline = true
      say(`cannot reach the server (${error.message}); output is kept and sent when it is back`)
    },
    onError: error => say(`${error.message}\n  The program keeps running; its output is no longer mirrored.`),
  }

  const session = options.sessionId
    ? attachSession({ ...connection, sessionId: options.sessionId, agentToken: options.token ?? '' })
    : await createSession({ ...connection, title: options.title ?? [options.command, ...options.args].join(' ').slice(0, 200) })
  announce(session, options, say)

  const commandLine = [options.command, ...options.args].join(' ')
  void session.state({ status: 'running', message: `$ ${commandLine}`.slice(0, 10_000) }).catch(() => {})

  let child: IPty
  try {
    child = spawn(options.command, options.args, {
      name: process.env.TERM || 'xterm-256color',
      cols: stdout.isTTY ? stdout.columns : DEFAULT_SIZE.cols,
      rows: stdout.isTTY ? stdout.rows : DEFAULT_SIZE.rows,
      cwd: process.cwd(),
      env: process.env as Record<string, string>,
    })
  }
  catch (error) {
    say(`cannot start ${options.command}: ${(error as Error).message}`)
    return finish(session, options, { exitCode: 127 }, say)
  }

  const mirror = new TerminalMirror(session, {
    onDrop: () => say(`the server has been unreachable for a while and the queue is full (${formatBytes(session.maxQueueBytes)}); further output is not mirrored until it is back`),
  })
  child.onData((data) => {
    // Local output first, unchanged; the terminal's own flow control (not the network) may pause the program.
    if (!stdout.write(data)) {
      child.pause()
      stdout.once('drain', () => child.resume())
    }
    mirror.write(data)
  })

  const unsubscribeInput = session.onInput(input => child.write(`${input.data}\r`))
  const restoreInput = forwardKeyboard(stdin, child, session)
  const stopSignals = forwardSignals(child)
  const onResize = () => child.resize(stdout.columns, stdout.rows)
  if (stdout.isTTY) stdout.on('resize', onResize)

  const exit = await new Promise<{ exitCode: number, signal?: number }>(resolve => child.onExit(resolve))
  stdout.off('resize', onResize)
  restoreInput()
  unsubscribeInput()
  stopSignals()
  mirror.end()
  return finish(session, options, exit, say)
}

async function finish(session: AgentSession, options: BridgeOptions, exit: { exitCode: number, signal?: number }, say: (message: string) => void): Promise<number> {
  const code = exit.signal ? 128 + exit.signal : exit.exitCode
  const reason = exit.signal ? `killed by signal ${signalName(exit.signal)}` : `exited with code ${exit.exitCode}`
  void session.state(code === 0
    ? { status: 'completed', progress: 100, message: 'Exited with code 0', error: undefined }
    : { status: 'error', message: `Exited with code ${code}`, error: `The program ${reason}` }).catch(() => {})
  const { events } = session.pending
  // Waiting for the server must not hold the terminal hostage: a Ctrl-C here gives up.
  let onInterrupt = () => {}
  const giveUp = new Promise<'gave up'>(resolve => onInterrupt = () => resolve('gave up'))
  process.once('SIGINT', onInterrupt)
  const notice = setTimeout(() => say(`waiting for the server to acknowledge ${events} event(s)… (Ctrl-C to stop waiting)`), 2000)
  try {
    const done = options.keepOpen ? session.flush() : session.close()
    if (await Promise.race([done, giveUp]) === 'gave up') say('gave up waiting: some output was not mirrored')
  }
  catch {
    // Already reported through onError.
  }
  finally {
    clearTimeout(notice)
    process.off('SIGINT', onInterrupt)
  }
  return code
}

function announce(session: AgentSession, options: BridgeOptions, say: (message: string) => void): void {
  say(`viewer link       ${session.url}`)
  if (session.collaborateUrl) say(`collaborate link  ${session.collaborateUrl}`)
  if (!options.linksFile) return
  const links = { id: session.id, url: session.url, collaborateUrl: session.collaborateUrl ?? null, agentToken: session.agentToken }
  writeFileSync(options.linksFile, `${JSON.stringify(links, null, 2)}\n`, { mode: 0o600 })
}

/**
 * Local keystrokes go to the program as they are (raw mode, so Ctrl-C reaches it as a byte) and
 * are published as input lines. Without a terminal (a pipe, CI) the piped data is passed on; its
 * end is not passed on, so a program waiting for input can still get it from the viewer.
 */
function forwardKeyboard(stdin: NodeJS.ReadStream, child: IPty, session: AgentSession): () => void {
  const lines = new KeyboardLines()
  const raw = stdin.isTTY === true
  if (raw) stdin.setRawMode(true)
  const onData = (data: Buffer | string) => {
    const text = data.toString()
    child.write(text)
    for (const line of lines.feed(text)) void session.terminal(line, { type: 'input', source: 'user' }).catch(() => {})
  }
  stdin.on('data', onData)
  stdin.resume()
  return () => {
    stdin.off('data', onData)
    if (raw) stdin.setRawMode(false)
    stdin.pause()
  }
}

/** Ctrl-C, kill and hang-up meant for the bridge are meant for the program. */
function forwardSignals(child: IPty): () => void {
  const handlers = FORWARDED_SIGNALS.map((signal) => {
    const handler = () => child.kill(signal)
    process.on(signal, handler)
    return () => process.off(signal, handler)
  })
  return () => handlers.forEach(remove => remove())
}

function signalName(signal: number): string {
  return Object.entries(constants.signals).find(([, value]) => value === signal)?.[0] ?? String(signal)
}
