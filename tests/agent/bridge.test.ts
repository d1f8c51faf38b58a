import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { TestServer } from '../support/server'
import { createSession, eventually, startSessionServer } from '../support/sessions'
import { countingProxy, messagesOfType, runBridge } from '../support/agent'

/**
 * `durable-sessions run` with real programs in a real pseudo-terminal, as its own process
 * without a TTY (as in CI): a chatty program mirrored completely in few requests, and a program
 * that runs while the server is down.
 */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

const LINES = 10_000
const LINE_BYTES = 500
/** A program that prints 5 MB as fast as it can, one write per line. */
const CHATTY = `for (let i = 0; i < ${LINES}; i++) process.stdout.write(String(i).padStart(6, '0') + ' ' + 'x'.repeat(${LINE_BYTES - 8}) + '\\n')`
const expectedLine = (i: number) => `${String(i).padStart(6, '0')} ${'x'.repeat(LINE_BYTES - 8)}`

/** Output entries as the viewer shows them: a line published unfinished and completed later is one entry. */
async function outputLines(sessionId: string): Promise<string[]> {
  const entries = new Map<string, string>()
  for (const entry of await messagesOfType(server, sessionId, 'terminal')) {
    if (entry.value!.type === 'output') entries.set(entry.key, entry.value!.data)
  }
  return [...entries.values()]
}

it('mirrors a program printing 5 MB completely and in order, in far fewer requests than writes', { timeout: 120_000 }, async () => {
  const proxy = await countingProxy(server)
  const linksFile = join(mkdtempSync(join(tmpdir(), 'ds-bridge-')), 'links.json')
  try {
    const bridge = runBridge(['--server', proxy.url, '--title', 'Chatty', '--links-file', linksFile, '--', process.execPath, '-e', CHATTY])
    expect(await bridge.exited).toBe(0)
    const links = JSON.parse(readFileSync(linksFile, 'utf8')) as { id: string, url: string, collaborateUrl: string, agentToken: string }
    expect(links.url).toBe(`${proxy.url}/sessions/${links.id}`)
    expect(bridge.stderr).toContain(links.url)
    expect(bridge.stderr).toContain(links.collaborateUrl)

    // Passed through locally unchanged (the PTY turns \n into \r\n) …
    expect(bridge.stdout.split('\r\n').filter(Boolean)).toEqual(Array.from({ length: LINES }, (_, i) => expectedLine(i)))
    // … and mirrored completely, one entry per line, in order.
    const lines = await outputLines(links.id)
    expect(lines.length).toBe(LINES)
    expect(lines.every((line, i) => line === expectedLine(i))).toBe(true)
    const ratio = proxy.eventPosts / LINES
    console.info(`bridge: ${LINES} writes (${(LINES * LINE_BYTES / 1e6).toFixed(1)} MB) mirrored in ${proxy.eventPosts} event POSTs: ${ratio.toFixed(4)} requests per write (1 per ${Math.round(1 / ratio)})`)
    expect(proxy.eventPosts).toBeLessThan(LINES / 50)
    expect((await messagesOfType(server, links.id, 'state')).at(-1)!.value).toMatchObject({ status: 'completed' })
  }
  finally {
    await proxy.close()
  }
})

it('a program run while the server is down loses nothing once the server is back', { timeout: 90_000 }, async () => {
  const session = await createSession(server, { title: 'Offline run' })
  await server.stop()
  const program = 'for i in $(seq 1 200); do echo "offline line $i"; done; exit 0'
  const bridge = runBridge(['--server', server.url, '--session', session.id, '--token', session.agentToken, '--', 'bash', '-c', program])
  // The program runs and finishes locally while nothing can be sent.
  await eventually(async () => bridge.stdout.includes('offline line 200') || undefined, 'the program printed everything locally')
  await eventually(async () => bridge.stderr.includes('cannot reach the server') || undefined, 'the bridge said the server is unreachable')
  expect(bridge.child.exitCode).toBeNull()

  await server.restart()
  expect(await bridge.exited).toBe(0)
  expect(await outputLines(session.id)).toEqual(Array.from({ length: 200 }, (_, i) => `offline line ${i + 1}`))
  const states = await messagesOfType(server, session.id, 'state')
  expect(states.map(state => state.value!.status)).toEqual(['running', 'completed'])
  const head = await fetch(`${server.url}/v1/stream/sessions/${session.id}`, { method: 'HEAD' })
  expect(head.headers.get('stream-closed')).toBe('true')
})
