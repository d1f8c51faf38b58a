import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readmeScreenshot, textsOf, useBrowser, waitForCount } from '../support/browser'
import type { TestServer } from '../support/server'
import { createSession, startSessionServer } from '../support/sessions'

/**
 * The home page: "Your sessions" (the ids this browser created or opened) and "Public
 * sessions"; an unlisted session shows to nobody else; starting a demo session from the UI;
 * the title filter on both lists.
 */

const e2e = useBrowser()
let server: TestServer

beforeAll(async () => {
  // No seeded demo session: both lists start empty.
  server = await startSessionServer()
})
afterAll(() => server?.stop())

const yours = (page: Page) => page.locator('[data-testid="your-sessions"] [data-testid="session-item"]')
const publicOnes = (page: Page) => page.locator('[data-testid="public-sessions"] [data-testid="session-item"]')
const titles = async (page: Page, list: (page: Page) => ReturnType<Page['locator']>) => (await textsOf(list(page).locator('a'))).sort()

describe('home page', () => {
  it('lists your sessions and public ones, never someone else\'s unlisted one; starts a demo session; filters both lists', { timeout: 90_000 }, async () => {
    const page = await e2e.newPage()
    await page.goto(server.url)
    await page.getByTestId('empty-state').waitFor()
    await page.getByTestId('your-sessions-empty').waitFor()
    // The ways to connect an agent, pointed at this server: the terminal bridge and the SDK (no curl).
    const emptyState = await page.getByTestId('empty-state').textContent()
    expect(emptyState).toContain(`npx durable-sessions run --server ${server.url} -- `)
    expect(emptyState).toContain(`createSession({ server: '${server.url}'`)
    expect(emptyState).toContain('@durable-sessions/agent')
    expect(emptyState).not.toContain('curl')
    expect(await page.getByTestId('session-item').count()).toBe(0)
    // No AI model on this server: no AI button, and the form says how to configure one.
    expect(await page.getByTestId('create-ai-session').count()).toBe(0)
    expect(await page.getByTestId('ai-setup').innerText()).toContain('Set NUXT_DURABLE_SESSIONS_AI_MODEL to anthropic:<model>')

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

    // Two more sessions made elsewhere: a public one, and an unlisted one this browser does not know.
    await createSession(server, { title: 'Upgrade the checkout SDK', public: true })
    const unlisted = await createSession(server, { title: 'Refactor the session store' })
    await page.goto(server.url)
    await waitForCount(yours(page), 1, 'the session this browser made is under "Your sessions"')
    await waitForCount(publicOnes(page), 1, 'the public session is under "Public sessions"')
    expect(await titles(page, yours)).toEqual(['Fix the flaky checkout test'])
    expect(await titles(page, publicOnes)).toEqual(['Upgrade the checkout SDK'])
    expect(await page.locator(`[data-testid="session-item"] a[href="/sessions/${sessionId}"]`).count()).toBe(1)
    // The unlisted session is not on the page at all, not even in its HTML.
    expect(await page.content()).not.toContain(unlisted.id)
    expect(await page.getByText('Refactor the session store').count()).toBe(0)

    // Opening its link puts it under "Your sessions" of this browser.
    await page.goto(`${server.url}${unlisted.url}`)
    await page.locator('h1', { hasText: 'Refactor the session store' }).waitFor()
    await page.goto(server.url)
    await waitForCount(yours(page), 2, 'the opened session joins "Your sessions"')
    expect(await titles(page, yours)).toEqual(['Fix the flaky checkout test', 'Refactor the session store'])
    await readmeScreenshot(page, 'home')

    // The filter narrows both lists by title…
    await page.getByTestId('session-filter').fill('checkout')
    await waitForCount(yours(page), 1, 'one of yours matches "checkout"')
    expect(await titles(page, yours)).toEqual(['Fix the flaky checkout test'])
    expect(await titles(page, publicOnes)).toEqual(['Upgrade the checkout SDK'])
    await page.getByTestId('session-filter').fill('refactor')
    await waitForCount(publicOnes(page), 0, 'no public session matches "refactor"')
    // Still one of yours, but another one: its list answers on its own time.
    await expect.poll(() => titles(page, yours)).toEqual(['Refactor the session store'])
    await page.getByText('No public session title contains').waitFor()
    // …to nothing, which says so (and is not the "no sessions yet" state)…
    await page.getByTestId('session-filter').fill('nothing matches this')
    await waitForCount(yours(page), 0, 'none of yours matches')
    await page.getByText('None of your sessions has a title containing').waitFor()
    expect(await page.getByTestId('empty-state').count()).toBe(0)
    // …and back.
    await page.getByTestId('session-filter').fill('')
    await waitForCount(yours(page), 2, 'both of yours again')
    await waitForCount(publicOnes(page), 1, 'the public one again')

    // A list entry opens its viewer.
    await yours(page).locator('a', { hasText: 'Fix the flaky checkout test' }).click()
    await page.waitForURL(`${server.url}/sessions/${sessionId}`)
    await page.getByTestId('message').first().waitFor()

    // Another browser sees the public session only.
    const stranger = await e2e.newPage()
    await stranger.goto(server.url)
    await stranger.getByTestId('your-sessions-empty').waitFor()
    await waitForCount(publicOnes(stranger), 1, 'a stranger sees the public session')
    const html = await stranger.content()
    for (const hidden of [sessionId, unlisted.id]) expect(html).not.toContain(hidden)
  })

  it('a session started as public is listed for everyone', { timeout: 60_000 }, async () => {
    const page = await e2e.newPage()
    await page.goto(server.url)
    await page.getByLabel(/Title/).fill('Open for all')
    await page.getByTestId('create-public').check()
    await page.getByTestId('create-session').click()
    await page.waitForURL(/\/sessions\/[\w-]+$/)
    const stranger = await e2e.newPage()
    await stranger.goto(server.url)
    await stranger.getByTestId('session-filter').fill('Open for all')
    await waitForCount(publicOnes(stranger), 1, 'the new public session is listed for a stranger')
  })
})
