import { randomUUID } from 'node:crypto'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession, SessionSnapshot } from '../../shared/sessions/api'
import { occurrences, textsOf, useBrowser, waitForCount } from '../support/browser'
import type { TestServer } from '../support/server'
import { api, as, createSession, eventually, publish, sleep, snapshot, startSessionServer } from '../support/sessions'

/**
 * History shown once, whatever happens to the connection: a reload in the middle of a running
 * demo, and the server killed (SIGKILL) and restarted under an open page.
 */

const e2e = useBrowser()
let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

const viewerLink = (session: CreatedSession) => `${server.url}/sessions/${session.id}`
const connection = (page: Page) => page.getByTestId('connection-status')

async function openLive(page: Page, url: string): Promise<void> {
  await page.goto(url)
  await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
}

interface Shown {
  /** `agentId:turn` of every message, in order. */
  messages: string[]
  texts: string[]
  toolCalls: string[]
}

async function shown(page: Page): Promise<Shown> {
  return {
    messages: await page.getByTestId('message').evaluateAll(nodes => nodes.map(node => `${node.getAttribute('data-agent-id')}:${node.getAttribute('data-turn')}`)),
    texts: await textsOf(page.locator('[data-testid="message"] .body')),
    toolCalls: await page.getByTestId('tool-call').evaluateAll(nodes => nodes.map(node => node.getAttribute('data-tool-call-id') ?? '')),
  }
}

function expectNoDuplicates(view: Shown): void {
  expect(new Set(view.messages).size, `messages shown twice: ${view.messages.join(', ')}`).toBe(view.messages.length)
  expect(new Set(view.toolCalls).size, `tool calls shown twice: ${view.toolCalls.join(', ')}`).toBe(view.toolCalls.length)
}

/** The demo's Markdown as plain text: what the rendered message reads as. */
const plain = (markdown: string) => markdown.replace(/\*\*|`/g, '').replace(/\s+/g, ' ').trim()

describe('history is shown once', () => {
  it('after a reload in the middle of a running demo: nothing doubled, and it keeps growing', { timeout: 90_000 }, async () => {
    const session = await createSession(server, { title: 'Reload mid-stream' })
    const page = await e2e.newPage()
    await openLive(page, viewerLink(session))
    const demo = await api(server, 'POST', `/api/sessions/${session.id}/demo`, { json: { speed: 1 }, headers: as('agent', session, server) })
    expect(demo.status).toBe(202)

    // Some history streamed in live: a message and a tool call.
    await waitForCount(page.getByTestId('message'), count => count >= 1, 'a message streamed in', 20_000)
    await waitForCount(page.getByTestId('tool-call'), count => count >= 1, 'a tool call streamed in', 20_000)

    await page.reload()
    await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
    const afterReload = await shown(page)
    expectNoDuplicates(afterReload)
    expect(afterReload.messages.length).toBeGreaterThanOrEqual(1)
    expect(afterReload.toolCalls.length).toBeGreaterThanOrEqual(1)
    // It keeps growing after the reload (so the reload was mid-stream) — never with a duplicate —
    // until the demo waits for approval.
    let grew = false
    await eventually(async () => {
      const now = await shown(page)
      expectNoDuplicates(now)
      if (now.messages.length > afterReload.messages.length || now.toolCalls.length > afterReload.toolCalls.length) grew = true
      const paused = await page.locator('[data-testid="agent-status"][data-status="paused"]').count()
      return paused ? true : undefined
    }, 'the demo reaches its approval request', 40_000)
    expect(grew).toBe(true)

    // Finally the page holds exactly the server's history: same messages, same texts, same tool calls.
    const final: SessionSnapshot = await snapshot(server, session.id)
    await eventually(async () => {
      const view = await shown(page)
      return view.toolCalls.length === final.state.toolCalls.length && view.messages.length === final.state.messages.length ? true : undefined
    }, 'the page catches up with the snapshot', 10_000)
    const view = await shown(page)
    expect(view.messages).toEqual(final.state.messages.map(message => `${message.agentId}:${message.turn}`))
    expect(view.texts).toEqual(final.state.messages.map(message => plain(message.text)))
    expect(view.toolCalls).toEqual(final.state.toolCalls.map(call => call.id))
    const firstSentence = plain(final.state.messages[0]!.text).slice(0, 40)
    expect(occurrences(await page.locator('main').innerText(), firstSentence)).toBe(1)
  })

  it('after the server is killed and restarted: reconnecting with a countdown, then live, nothing lost or doubled', { timeout: 90_000 }, async () => {
    const session = await createSession(server, { title: 'Server crash' })
    const tag = randomUUID().slice(0, 8)
    const texts = {
      beforeMessage: `Before the crash ${tag}.`,
      beforeTerminal: `term-before-${tag}`,
      afterMessage: `After the restart ${tag}.`,
      afterTerminal: `term-after-${tag}`,
    }
    await publish(server, session, [
      { channel: 'chunks', data: { agentId: session.agentId, text: texts.beforeMessage, turn: 1 } },
      { channel: 'terminal', data: { type: 'output', source: 'agent', data: texts.beforeTerminal } },
    ])

    const page = await e2e.newPage()
    await openLive(page, viewerLink(session))
    // One more before the crash that reaches the page live, not by SSR.
    await publish(server, session, { channel: 'toolCalls', data: { id: `tool-${tag}`, agentId: session.agentId, tool: 'read_file', input: { path: 'a.ts' }, status: 'complete', output: { lines: 1 } } })
    await page.locator(`[data-testid="tool-call"][data-tool-call-id="tool-${tag}"]`).waitFor()

    await server.kill()
    await page.locator('[data-testid="connection-status"][data-state="reconnecting"]').waitFor({ timeout: 10_000 })
    await eventually(async () => /Reconnecting in \d+ s/.test(await connection(page).innerText()) || undefined, 'the badge counts down to the next attempt', 10_000)
    const banner = page.getByTestId('connection-banner')
    await banner.waitFor()
    expect(await banner.innerText()).toMatch(/Reconnecting/)
    // What was shown stays while offline.
    await page.getByTestId('message').filter({ hasText: texts.beforeMessage }).waitFor()

    await server.restart()
    await publish(server, session, [
      { channel: 'chunks', data: { agentId: session.agentId, text: texts.afterMessage, turn: 2 } },
      { channel: 'terminal', data: { type: 'output', source: 'agent', data: texts.afterTerminal } },
    ])
    // The retry schedule is 1, 2, 4, 8 s: the page is back within one step of the restart.
    await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor({ timeout: 20_000 })
    await page.getByTestId('message').filter({ hasText: texts.afterMessage }).waitFor({ timeout: 10_000 })
    await page.getByTestId('terminal-line').filter({ hasText: texts.afterTerminal }).waitFor({ timeout: 10_000 })
    expect(await banner.count()).toBe(0)

    // Give a doubled delivery its chance to show, then count.
    await sleep(750)
    const body = await page.locator('main, aside').allInnerTexts()
    for (const text of Object.values(texts)) expect(occurrences(body.join('\n'), text), text).toBe(1)
    expect(await page.getByTestId('message').count()).toBe(2)
    expect(await page.getByTestId('terminal-line').count()).toBe(2)
    expect(await page.getByTestId('tool-call').count()).toBe(1)
    const final = await snapshot(server, session.id)
    expect(final.state.messages.map(message => message.text)).toEqual([texts.beforeMessage, texts.afterMessage])
    expect(final.state.terminal.map(entry => entry.data)).toEqual([texts.beforeTerminal, texts.afterTerminal])
  })
})
