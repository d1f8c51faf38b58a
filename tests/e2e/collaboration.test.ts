import { randomUUID } from 'node:crypto'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import { readmeScreenshot, useBrowser, waitForCount } from '../support/browser'
import type { TestServer } from '../support/server'
import { api, as, createSession, eventually, publish, sleep, snapshot, startSessionServer, streamMessages } from '../support/sessions'

/**
 * Two people on one session, in real Chromium against the built server: presence and live
 * cursors, optimistic terminal input, what a viewer may not do, and an approval that reaches the
 * stream and lets the demo agent finish.
 */

const e2e = useBrowser()
let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

const viewerLink = (session: CreatedSession) => `${server.url}/sessions/${session.id}`
const collaborateLink = (session: CreatedSession) => `${viewerLink(session)}?key=${encodeURIComponent(session.collaboratorKey)}`

/** Opens a session page and waits until its live connection is up. */
async function openLive(page: Page, url: string): Promise<void> {
  await page.goto(url)
  await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
}

/** This browser's presence id (useIdentity keeps it in localStorage once mounted). */
async function userIdOf(page: Page): Promise<string> {
  return eventually(async () => (await page.evaluate(() => localStorage.getItem('durable-sessions:identity:user-id'))) || undefined, 'the page has a user id', 10_000)
}

describe('two users on one session', () => {
  it('see each other in presence and see each other\'s cursors move', { timeout: 60_000 }, async () => {
    const session = await createSession(server, { title: 'Pairing on presence' })
    const [alice, bob] = await Promise.all([e2e.newPage(), e2e.newPage()])
    await Promise.all([openLive(alice, collaborateLink(session)), openLive(bob, viewerLink(session))])
    const [aliceId, bobId] = await Promise.all([userIdOf(alice), userIdOf(bob)])
    expect(aliceId).not.toBe(bobId)

    // Both avatars in both headers.
    for (const page of [alice, bob]) {
      await waitForCount(page.getByTestId('participant'), 2, 'two participants are shown')
      const ids = await page.getByTestId('participant').evaluateAll(nodes => nodes.map(node => node.getAttribute('data-user-id')))
      expect(ids.sort()).toEqual([aliceId, bobId].sort())
    }

    // Nobody has moved yet: no cursors.
    expect(await alice.getByTestId('remote-cursor').count()).toBe(0)
    expect(await bob.getByTestId('remote-cursor').count()).toBe(0)

    // Alice moves: Bob sees her cursor where she left it (document coordinates; neither page scrolls).
    await alice.mouse.move(300, 200)
    await alice.mouse.move(420, 310, { steps: 4 })
    const aliceOnBob = bob.locator(`[data-testid="remote-cursor"][data-user-id="${aliceId}"]`)
    await aliceOnBob.waitFor()
    await eventually(async () => ((await aliceOnBob.getAttribute('style')) ?? '').includes('translate3d(420px, 310px') || undefined, 'Bob sees Alice\'s cursor at (420, 310)', 10_000)
    // Her own cursor is not drawn for her.
    expect(await alice.getByTestId('remote-cursor').count()).toBe(0)

    // Bob moves: Alice sees his cursor, with his name on it.
    await bob.mouse.move(640, 500, { steps: 3 })
    const bobOnAlice = alice.locator(`[data-testid="remote-cursor"][data-user-id="${bobId}"]`)
    await bobOnAlice.waitFor()
    await eventually(async () => ((await bobOnAlice.getAttribute('style')) ?? '').includes('translate3d(640px, 500px') || undefined, 'Alice sees Bob\'s cursor at (640, 500)', 10_000)
    expect(await bobOnAlice.textContent()).toMatch(/\S/)
    expect(await alice.getByTestId('remote-cursor').count()).toBe(1)
  })

  it('terminal input shows at once for its sender (pending, then confirmed) and reaches the other user through the stream, once', { timeout: 60_000 }, async () => {
    const session = await createSession(server, { title: 'Terminal together' })
    const [alice, bob] = await Promise.all([e2e.newPage(), e2e.newPage()])
    await Promise.all([openLive(alice, collaborateLink(session)), openLive(bob, collaborateLink(session))])
    const command = `echo e2e-${randomUUID().slice(0, 8)}`
    const input = alice.getByTestId('terminal-input')
    await expect.poll(() => input.isEnabled(), { timeout: 10_000 }).toBe(true)

    // Record, in Alice's page, every state a line with this text is rendered in: the first one
    // must be pending — rendered before any answer from the server could have arrived.
    await alice.evaluate((text) => {
      const seen: { pending: string | null, at: number }[] = []
      ;(window as unknown as { __lineStates: typeof seen }).__lineStates = seen
      const record = () => {
        for (const line of document.querySelectorAll('[data-testid="terminal-line"]')) {
          if (!line.textContent?.includes(text)) continue
          const pending = line.getAttribute('data-pending')
          if (seen.at(-1)?.pending !== pending) seen.push({ pending, at: performance.now() })
        }
      }
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true })
    }, command)

    await input.fill(command)
    await input.press('Enter')

    // How fast it reaches Bob is a latency figure for the benchmarks; here only that it does.
    const aliceLine = alice.getByTestId('terminal-line').filter({ hasText: command })
    const bobLine = bob.getByTestId('terminal-line').filter({ hasText: command })
    await aliceLine.first().waitFor()
    await bobLine.first().waitFor()

    // Confirmed for Alice: not pending any more.
    await alice.locator('[data-testid="terminal-line"][data-pending="false"]').filter({ hasText: command }).waitFor({ timeout: 5_000 })
    const states = await alice.evaluate(() => (window as unknown as { __lineStates: { pending: string | null }[] }).__lineStates.map(state => state.pending))
    expect(states[0]).toBe('true')
    expect(states.at(-1)).toBe('false')
    // Bob only ever sees the confirmed line: it reached him through the stream.
    expect(await bobLine.first().getAttribute('data-pending')).toBe('false')

    // Exactly once on both sides, also after the echo of the write came back over the stream.
    await sleep(750)
    expect(await aliceLine.count()).toBe(1)
    expect(await bobLine.count()).toBe(1)
    expect(await alice.getByTestId('terminal-error').count()).toBe(0)
    const stream = await streamMessages(server, `sessions/${session.id}`)
    expect(stream.filter(message => message.type === 'terminal' && message.value?.data === command)).toHaveLength(1)
  })

  it('a collaborate link\'s key leaves the address bar once kept: not in the history, not in a Referer', { timeout: 60_000 }, async () => {
    const session = await createSession(server, { title: 'Key out of sight' })
    const page = await e2e.newPage()
    await openLive(page, collaborateLink(session))
    await page.waitForURL(viewerLink(session))
    // Kept, so still a collaborator.
    const input = page.getByTestId('terminal-input')
    await expect.poll(() => input.isEnabled(), { timeout: 10_000 }).toBe(true)

    // The page's next request says where it came from without the key.
    const sent = page.waitForRequest(request => request.method() === 'POST' && request.url().endsWith('/events'))
    await input.fill('echo referer')
    await input.press('Enter')
    expect((await (await sent).allHeaders()).referer).toBe(viewerLink(session))

    // Leaving and coming back through the history finds the page without the key, still collaborating.
    // (Once the home page's app has mounted: its router's own history update would cancel the way back.)
    await page.goto(`${server.url}/`)
    await page.waitForFunction(() => Boolean((document.querySelector('#__nuxt') as { __vue_app__?: unknown } | null)?.__vue_app__))
    await page.goBack()
    await page.waitForURL(viewerLink(session))
    await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
    await expect.poll(() => input.isEnabled(), { timeout: 10_000 }).toBe(true)
  })

  it('a session closed while viewers have it open shows as ended, and the pages write nothing after the end', { timeout: 60_000 }, async () => {
    // A collaborator (joined to presence, heartbeating) on an empty session, and viewers of two
    // sessions with history: whether the end is seen depends on when its batch arrives, so three.
    const sessions = await Promise.all(['Closed under the collaborator', 'Closed under a viewer', 'Closed under another viewer'].map(title => createSession(server, { title })))
    for (const session of sessions.slice(1)) await publish(server, session, { channel: 'terminal', data: { type: 'output', source: 'agent', data: 'history' } })
    const pages = await Promise.all(sessions.map(() => e2e.newPage()))
    const writes: string[] = []
    const refused: string[] = []
    for (const page of pages) {
      page.on('request', (request) => {
        if (request.method() === 'POST') writes.push(new URL(request.url()).pathname)
      })
      page.on('response', (response) => {
        if (response.request().method() === 'POST' && response.status() >= 400) refused.push(`${response.status()} ${new URL(response.url()).pathname}`)
      })
    }
    await Promise.all([openLive(pages[0]!, collaborateLink(sessions[0]!)), openLive(pages[1]!, viewerLink(sessions[1]!)), openLive(pages[2]!, viewerLink(sessions[2]!))])
    await waitForCount(pages[0]!.getByTestId('participant'), 1, 'the collaborator has joined presence')

    for (const session of sessions) expect((await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as('agent', session, server) })).status).toBe(200)
    for (const page of pages) {
      await page.locator('[data-testid="connection-status"][data-state="closed"]').waitFor()
      expect(await page.getByTestId('connection-status').textContent()).toContain('Ended')
    }
    const writesAtEnd = writes.length

    // Past a presence heartbeat (10 s): nothing more is written, so nothing is refused either,
    // and every page still says the session has ended.
    await sleep(11_000)
    expect(writes.slice(writesAtEnd)).toEqual([])
    expect(refused).toEqual([])
    for (const page of pages) expect(await page.getByTestId('connection-status').getAttribute('data-state')).toBe('closed')
  })

  it('a session that has ended is shown as ended, and opening it writes nothing', { timeout: 60_000 }, async () => {
    const session = await createSession(server, { title: 'Already over' })
    expect((await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as('agent', session, server) })).status).toBe(200)
    const page = await e2e.newPage()
    const writes: string[] = []
    page.on('request', (request) => {
      if (request.method() === 'POST') writes.push(new URL(request.url()).pathname)
    })
    await page.goto(collaborateLink(session))
    await page.locator('[data-testid="connection-status"][data-state="closed"]').waitFor()
    // Mounted and settled (the collaborate key has been taken out of the address bar): no join was sent.
    await page.waitForURL(viewerLink(session))
    await sleep(1_000)
    expect(writes).toEqual([])
  })

  it('a viewer (plain link, no key) cannot type and has no approve or reject buttons', { timeout: 60_000 }, async () => {
    const session = await createSession(server, { title: 'Read-only viewer' })
    await publish(server, session, [
      { channel: 'chunks', data: { agentId: session.agentId, text: 'May I merge the fix?', turn: 1 } },
      { channel: 'workflow', data: { type: 'approval:requested', payload: { title: 'Merge fix/viewer-check' }, actor: session.agentId } },
    ])

    const viewer = await e2e.newPage()
    await openLive(viewer, viewerLink(session))
    // The request is shown to the viewer…
    await viewer.getByText('Merge fix/viewer-check').first().waitFor()
    await viewer.getByTestId('message').filter({ hasText: 'May I merge the fix?' }).waitFor()
    // …but nothing to act on it with, and the terminal is read-only (after hydration: give the
    // client-only credential check its chance to wrongly enable anything).
    await sleep(500)
    const terminalInput = viewer.getByTestId('terminal-input')
    if (await terminalInput.count()) expect(await terminalInput.isDisabled()).toBe(true)
    expect(await viewer.getByTestId('approve').count()).toBe(0)
    expect(await viewer.getByTestId('reject').count()).toBe(0)
    expect(await viewer.getByTestId('copy-collaborate-link').count()).toBe(0)
    // Typing at it anyway goes nowhere.
    await terminalInput.focus({ timeout: 2_000 }).catch(() => undefined)
    await viewer.keyboard.type('ls')
    await viewer.keyboard.press('Enter')
    expect(await terminalInput.inputValue()).toBe('')

    // The same page with the collaborate link does get the controls (so the selectors above are live).
    const collaborator = await e2e.newPage()
    await openLive(collaborator, collaborateLink(session))
    await collaborator.getByTestId('approve').waitFor()
    expect(await collaborator.getByTestId('reject').count()).toBe(1)
    await expect.poll(() => collaborator.getByTestId('terminal-input').isEnabled(), { timeout: 10_000 }).toBe(true)

    const stream = await streamMessages(server, `sessions/${session.id}`)
    expect(stream.filter(message => message.type === 'terminal')).toHaveLength(0)
  })

  it('an approval from a collaborator lands in the stream and the demo agent completes', { timeout: 90_000 }, async () => {
    const session = await createSession(server, { title: 'Fix the flaky checkout test' })
    const [alice, bob] = await Promise.all([e2e.newPage(), e2e.newPage()])
    await Promise.all([openLive(alice, collaborateLink(session)), openLive(bob, collaborateLink(session))])
    const demo = await api(server, 'POST', `/api/sessions/${session.id}/demo`, { json: { speed: 10 }, headers: as('agent', session, server) })
    expect(demo.status).toBe(202)

    // The request arrives live; the agent waits on it.
    const approve = alice.getByTestId('approve')
    await approve.waitFor({ timeout: 30_000 })
    await alice.locator('[data-testid="agent-status"][data-status="paused"]').waitFor()
    const requestId = await alice.locator('[data-request-id]').filter({ has: approve }).getAttribute('data-request-id')
    expect(requestId).toBeTruthy()

    // README: the light desktop viewer, mid-demo, with the approval waiting and both people here.
    await waitForCount(alice.getByTestId('participant'), 2, 'both collaborators are shown')
    await bob.mouse.move(760, 330, { steps: 2 })
    await alice.locator(`[data-testid="remote-cursor"]`).waitFor()
    await approve.scrollIntoViewIfNeeded()
    await readmeScreenshot(alice, 'viewer-light')

    await approve.click()
    // The agent goes on and finishes, seen by both.
    await alice.locator('[data-testid="agent-status"][data-status="completed"]').waitFor({ timeout: 30_000 })
    await bob.locator('[data-testid="agent-status"][data-status="completed"]').waitFor({ timeout: 10_000 })
    expect(await alice.getByTestId('approve').count()).toBe(0)
    expect(await bob.getByTestId('approve').count()).toBe(0)

    // The decision is on the session stream, read raw over HTTP: one approval for this request.
    const stream = await streamMessages(server, `sessions/${session.id}`)
    const decisions = stream.filter(message => message.type === 'workflow' && ['approval:approved', 'approval:rejected'].includes(String(message.value?.type)))
    expect(decisions).toHaveLength(1)
    expect(decisions[0]!.value).toMatchObject({ type: 'approval:approved', payload: { requestId } })
    // Attributed to Alice (her default name is derived from her user id).
    const aliceId = await userIdOf(alice)
    expect(decisions[0]!.value!.actor).toBe(`Guest ${aliceId.replace(/-/g, '').slice(0, 4)}`)
    // …and the demo merged (it only does on approval).
    const final = await snapshot(server, session.id)
    expect(final.state.workflow.map(event => event.type)).toContain('worktree:merged')
    expect(final.state.agentState[session.agentId]?.status).toBe('completed')

    // README: the finished session in the dark theme, as a later viewer sees it (alone).
    await Promise.all([alice.context().close(), bob.context().close()])
    const dark = await e2e.newPage({ colorScheme: 'dark' })
    await openLive(dark, viewerLink(session))
    await dark.locator('[data-testid="agent-status"][data-status="completed"]').waitFor()
    await readmeScreenshot(dark, 'viewer-dark')
  })
})
