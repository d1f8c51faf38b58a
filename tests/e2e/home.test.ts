import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readmeScreenshot, textsOf, useBrowser, waitForCount } from '../support/browser'
import type { TestServer } from '../support/server'
import { createSession, startSessionServer } from '../support/sessions'

/** The sessions list: its empty state, starting a demo session from the UI, and the title filter. */

const e2e = useBrowser()
let server: TestServer

beforeAll(async () => {
  // No seeded demo session: the list starts empty.
  server = await startSessionServer()
})
afterAll(() => server?.stop())

describe('home page', () => {
  it('starts a session with the demo agent from the UI, lands on its viewer and streams; the filter narrows the list', { timeout: 90_000 }, async () => {
    const page = await e2e.newPage()
    await page.goto(server.url)
    await page.getByTestId('empty-state').waitFor()
    expect(await page.getByTestId('session-item').count()).toBe(0)

    await page.getByLabel(/Title/).fill('Fix the flaky checkout test')
    await page.getByTestId('create-demo-session').click()
    await page.waitForURL(/\/sessions\/[\w-]+$/)
    const sessionId = new URL(page.url()).pathname.split('/').pop()!
    // Client-side navigation: the URL changes before the viewer has loaded the session.
    await page.locator('h1', { hasText: 'Fix the flaky checkout test' }).waitFor()
    await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor()

    // The demo streams: a message appears and the text grows token by token (counted over every
    // message: on a slow machine the first one may be complete before it is first seen).
    const streamedText = () => [...document.querySelectorAll('[data-testid="message"]')].reduce((sum, message) => sum + (message.textContent?.length ?? 0), 0)
    await page.getByTestId('message').first().waitFor({ timeout: 20_000 })
    const early = await page.evaluate(streamedText)
    await expect.poll(() => page.evaluate(streamedText), { timeout: 20_000 }).toBeGreaterThan(early + 20)
    await page.getByTestId('tool-call').first().waitFor({ timeout: 20_000 })
    // This browser created it, so it holds the agent token: collaborator controls are there.
    await page.getByTestId('copy-collaborate-link').waitFor()
    await expect.poll(() => page.getByTestId('terminal-input').isEnabled(), { timeout: 10_000 }).toBe(true)

    // Two more sessions, then back to the list.
    await createSession(server, { title: 'Refactor the session store' })
    await createSession(server, { title: 'Upgrade the checkout SDK' })
    await page.goto(server.url)
    await waitForCount(page.getByTestId('session-item'), 3, 'three sessions are listed')
    expect(await page.getByTestId('empty-state').count()).toBe(0)
    expect(await page.locator(`[data-testid="session-item"] a[href="/sessions/${sessionId}"]`).count()).toBe(1)
    await readmeScreenshot(page, 'home')

    // The filter narrows by title (debounced server query)…
    await page.getByTestId('session-filter').fill('checkout')
    await waitForCount(page.getByTestId('session-item'), 2, 'two sessions match "checkout"')
    expect((await textsOf(page.locator('[data-testid="session-item"] a'))).sort()).toEqual(['Fix the flaky checkout test', 'Upgrade the checkout SDK'])
    await page.getByTestId('session-filter').fill('flaky')
    await waitForCount(page.getByTestId('session-item'), 1, 'one session matches "flaky"')
    expect(await textsOf(page.locator('[data-testid="session-item"] a'))).toEqual(['Fix the flaky checkout test'])
    // …to nothing, which says so (and is not the "no sessions yet" state)…
    await page.getByTestId('session-filter').fill('nothing matches this')
    await waitForCount(page.getByTestId('session-item'), 0, 'no session matches')
    await page.getByText('No session title contains').waitFor()
    expect(await page.getByTestId('empty-state').count()).toBe(0)
    // …and back.
    await page.getByTestId('session-filter').fill('')
    await waitForCount(page.getByTestId('session-item'), 3, 'all three sessions again')

    // A list entry opens its viewer.
    await page.locator('[data-testid="session-item"] a', { hasText: 'Fix the flaky checkout test' }).click()
    await page.waitForURL(`${server.url}/sessions/${sessionId}`)
    await page.getByTestId('message').first().waitFor()
  })
})
