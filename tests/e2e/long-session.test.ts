import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import { useBrowser } from '../support/browser'
import type { TestServer } from '../support/server'
import { createSession, eventually, publish, startSessionServer } from '../support/sessions'

/**
 * A session of 10,000 events in Chromium: the page opens on the newest messages, scrolling the
 * messages up pages earlier ones in until the very first, none shown twice, live tokens keep
 * arriving meanwhile, and a reload returns to the newest window.
 */

const e2e = useBrowser()
let server: TestServer
let session: CreatedSession

const TURNS = 300
const CHUNKS_PER_TURN = 20
const TERMINAL_LINES = 2_000
const TOOL_CALLS = 1_000

/** 6,000 chunks in 300 messages, 2,000 terminal lines, 1,000 tool calls started and finished. */
function tenThousandEvents(agentId: string): unknown[] {
  const events: unknown[] = []
  for (let turn = 0; turn < TURNS; turn++) {
    for (let chunk = 0; chunk < CHUNKS_PER_TURN; chunk++) events.push({ channel: 'chunks', data: { agentId, turn, text: `m${turn}c${chunk} ` } })
    const share = (total: number) => Array.from({ length: Math.floor((turn + 1) * total / TURNS) - Math.floor(turn * total / TURNS) }, (_, i) => Math.floor(turn * total / TURNS) + i)
    for (const line of share(TERMINAL_LINES)) events.push({ channel: 'terminal', data: { id: `line-${line}`, type: 'output', source: 'agent', data: `line ${line}` } })
    for (const call of share(TOOL_CALLS)) {
      const start = { id: `call-${call}`, agentId, tool: 'read_file', input: { call } }
      events.push({ channel: 'toolCalls', data: { ...start, status: 'running' } }, { channel: 'toolCalls', data: { ...start, status: 'complete', output: { ok: true } } })
    }
  }
  return events
}

beforeAll(async () => {
  server = await startSessionServer()
  session = await createSession(server, { title: 'Ten thousand events' })
  const events = tenThousandEvents(session.agentId)
  expect(events).toHaveLength(10_000)
  for (let at = 0; at < events.length; at += 500) await publish(server, session, events.slice(at, at + 500))
}, 120_000)
afterAll(() => server?.stop())

const messageList = (page: Page) => page.getByRole('group', { name: 'Agent messages' })
const turnsShown = (page: Page) => page.getByTestId('message').evaluateAll(nodes => nodes.map(node => Number(node.getAttribute('data-turn'))))

async function openLive(page: Page): Promise<void> {
  await page.goto(`${server.url}/sessions/${session.id}`)
  await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
}

describe('a 10,000-event session in the browser', () => {
  it('opens on the newest messages and scrolls back to the first, each shown once, while live tokens arrive', { timeout: 180_000 }, async () => {
    const page = await e2e.newPage()
    await openLive(page)
    const opened = await turnsShown(page)
    expect(opened.at(-1)).toBe(TURNS - 1)
    expect(opened[0]).toBeGreaterThan(0)
    expect(new Set(opened).size).toBe(opened.length)

    // Scroll up, page after page, until the first message shows. Every render is checked.
    const seen = new Set(opened)
    let live: string | undefined
    for (let step = 0; !seen.has(0); step++) {
      expect(step, 'pages needed to reach the first message').toBeLessThan(200)
      const before = (await turnsShown(page))[0]
      await messageList(page).evaluate((element) => {
        element.scrollTop = 0
        element.dispatchEvent(new Event('scroll'))
      })
      await eventually(async () => ((await turnsShown(page))[0] !== before ? true : undefined), `messages before turn ${before} show`)
      const turns = await turnsShown(page)
      expect(new Set(turns).size, `a message shown twice: ${turns.join(',')}`).toBe(turns.length)
      // Contiguous, in stream order.
      expect(turns).toEqual(Array.from({ length: turns.length }, (_, i) => turns[0]! + i))
      for (const turn of turns) seen.add(turn)

      // Half way up, the agent writes: tokens arrive while the reader is in the past.
      if (step === 2) {
        live = `live token ${step}`
        await publish(server, session, { channel: 'chunks', data: { agentId: session.agentId, turn: TURNS, text: live } })
        await page.getByRole('button', { name: /Jump to latest · 1 new/ }).waitFor()
      }
    }
    expect([...seen].filter(turn => turn < TURNS).sort((a, b) => a - b)).toEqual(Array.from({ length: TURNS }, (_, turn) => turn))
    expect(live).toBeDefined()

    // Back to the end: the live message is there, once.
    await page.getByRole('button', { name: /Jump to latest/ }).click()
    await eventually(async () => ((await turnsShown(page)).at(-1) === TURNS ? true : undefined), 'the live message shows')
    await expect(page.getByTestId('message').filter({ hasText: live! }).count()).resolves.toBe(1)
    expect(e2e.pageErrors()).toEqual([])
  })

  it('returns to the newest window on reload', { timeout: 60_000 }, async () => {
    const page = await e2e.newPage()
    await openLive(page)
    await messageList(page).evaluate((element) => {
      element.scrollTop = 0
      element.dispatchEvent(new Event('scroll'))
    })
    await page.getByRole('button', { name: /Jump to latest/ }).waitFor()
    await page.reload()
    await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
    const turns = await turnsShown(page)
    expect(turns.at(-1)).toBeGreaterThanOrEqual(TURNS - 1)
    expect(turns[0]).toBeGreaterThan(0)
    await expect(page.getByRole('button', { name: /Jump to latest/ }).count()).resolves.toBe(0)
  })
})
