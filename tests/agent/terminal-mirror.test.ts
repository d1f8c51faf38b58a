import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KeyboardLines } from '../../packages/agent/src/bridge/keyboard-lines'
import { TerminalMirror } from '../../packages/agent/src/bridge/terminal-mirror'
import { attachSession } from '../../packages/agent/src/session'
import type { TestServer } from '../support/server'
import { createSession, eventually, startSessionServer } from '../support/sessions'
import { messagesOfType } from '../support/agent'

/** How the bridge turns output into terminal entries and keystrokes into input lines, against the built server. */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

/** Terminal entries as the viewer shows them (an updated entry keeps its place). */
async function entries(sessionId: string): Promise<{ type: string, source: string, data: string }[]> {
  const byId = new Map<string, { type: string, source: string, data: string }>()
  for (const message of await messagesOfType(server, sessionId, 'terminal')) byId.set(message.key, message.value as never)
  return [...byId.values()]
}

describe('TerminalMirror', () => {
  it('publishes one entry per line; an unfinished line appears, then is completed in place; long lines continue in a new entry', async () => {
    const created = await createSession(server)
    const session = attachSession({ server: server.url, sessionId: created.id, agentToken: created.agentToken })
    const mirror = new TerminalMirror(session, { partialLineDelayMs: 10 })
    mirror.write('\u001B[1mone\u001B[22m\r\ntw')
    mirror.write('o\r\nPassword: ')
    await eventually(async () => (await session.flush(), (await entries(created.id)).some(entry => entry.data === 'Password: ') || undefined), 'the prompt is shown before its line ends')
    mirror.write('hunter2\r\n')
    mirror.write(`${'y'.repeat(100_005)}\nlast, without a newline`)
    mirror.end()
    await session.flush()
    expect((await entries(created.id)).map(entry => entry.data.length > 50 ? `${entry.data[0]}×${entry.data.length}` : entry.data)).toEqual([
      '\u001B[1mone\u001B[22m',
      'two',
      'Password: hunter2',
      'y×100000',
      'yyyyy',
      'last, without a newline',
    ])
  })

  it('drops output past the queue bound while the server is down, says how much, and delivers the rest', { timeout: 60_000 }, async () => {
    const created = await createSession(server)
    await server.stop()
    const session = attachSession({ server: server.url, sessionId: created.id, agentToken: created.agentToken, maxQueueBytes: 5_000, retry: { initialDelay: 50, maxDelay: 200 } })
    let dropNotices = 0
    const mirror = new TerminalMirror(session, { onDrop: () => dropNotices++ })
    for (let i = 0; i < 40; i++) mirror.write(`kept or dropped ${i} ${'z'.repeat(400)}\n`)
    const kept = session.pending.events
    expect(kept).toBeGreaterThan(0)
    expect(kept).toBeLessThan(40)
    await server.restart()
    await session.flush()
    mirror.write('after the outage\n')
    mirror.end()
    await session.flush()
    const shown = await entries(created.id)
    expect(dropNotices).toBe(1)
    expect(shown.slice(0, kept).map(entry => entry.data.split(' ').slice(0, 4).join(' '))).toEqual(Array.from({ length: kept }, (_, i) => `kept or dropped ${i}`))
    expect(shown[kept]).toMatchObject({ type: 'error', source: 'system', data: expect.stringMatching(/^\[durable-sessions\] [\d.]+ KB of output not mirrored/) })
    expect(shown.slice(kept + 1).map(entry => entry.data)).toEqual(['after the outage'])
  })
})

describe('KeyboardLines', () => {
  it('turns keystrokes into the lines they make', () => {
    const lines = new KeyboardLines()
    expect(lines.feed('ls -l')).toEqual([])
    expect(lines.feed('a\r')).toEqual(['ls -la'])
    // Backspace, an arrow key (ESC [ A), Ctrl-U and Ctrl-C discard, Enter on nothing publishes nothing.
    expect(lines.feed('gti\u007F\u007Fit\u001B[A status\r\r')).toEqual(['git status'])
    expect(lines.feed('rm -rf /\u0015echo ok\n')).toEqual(['echo ok'])
    expect(lines.feed('oops\u0003')).toEqual([])
    expect(lines.feed('é🙂\u007F\r')).toEqual(['é'])
  })

  it('stays fast on a long line erased key by key (no quadratic editing)', () => {
    const lines = new KeyboardLines()
    const started = performance.now()
    expect(lines.feed(`${'x'.repeat(200_000)}${'\u007F'.repeat(200_000)}done\r`)).toEqual(['done'])
    // Generous: a quadratic editor would need minutes for this.
    expect(performance.now() - started).toBeLessThan(5_000)
  })
})
