import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useBrowser } from '../support/browser'
import type { TestServer } from '../support/server'
import { api, createSession, publish, startSessionServer } from '../support/sessions'

/**
 * This project as a Nuxt layer: tests/fixtures/layer-app is a team's own app that extends it by
 * path, overrides the session header and the accent colour, and shows a session on a page and
 * under a layout of its own. Built by `npm test` (`nuxt build tests/fixtures/layer-app`), started
 * like the app itself, and driven in Chromium.
 */

const FIXTURE = 'tests/fixtures/layer-app'
const ENTRY = `${FIXTURE}/.output/server/index.mjs`
/** The fixture's accent (tests/fixtures/layer-app/app/assets/team.css) as computed styles report it. */
const TEAM_ACCENT = 'rgb(124, 58, 237)'

const e2e = useBrowser()
let server: TestServer

beforeAll(async () => {
  if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: build the fixture first (npm run build:layer-app)`)
  server = await startSessionServer({ entry: ENTRY })
})
afterAll(() => server?.stop())

const chunk = (session: { agentId: string }, text: string, turn = 1) => ({ channel: 'chunks', data: { agentId: session.agentId, text, turn } })

describe('the app extending this project as a layer', () => {
  it('serves the layer\'s API and protocol routes, with its database migrated and its scheduled tasks registered', async () => {
    const session = await createSession(server, { title: 'Through the layer' })
    const offset = await publish(server, session, chunk(session, 'Hello from the layer'))
    const snapshot = await api(server, 'GET', `/api/sessions/${session.id}/snapshot`)
    expect(snapshot.status).toBe(200)
    expect(snapshot.body).toMatchObject({ offset, session: { title: 'Through the layer' }, state: { messages: [{ text: 'Hello from the layer' }] } })
    const stream = await fetch(`${server.url}/v1/stream/sessions/${session.id}?offset=-1`)
    expect(stream.status).toBe(200)
    expect(await stream.json()).toEqual([expect.objectContaining({ type: 'chunk' })])
    // The layer's Nitro tasks (server/tasks) are in the app's server, on the layer's schedule.
    const nitro = readFileSync(`${FIXTURE}/.output/server/chunks/nitro/nitro.mjs`, 'utf8')
    expect(nitro).toContain('{"cron":"0 * * * *","tasks":["sessions:retention"]}')
    expect(nitro).toContain('{"cron":"* * * * *","tasks":["sessions:presence-retention","sessions:ai-agents"]}')
  })

  it('renders a session on its own page and layout, with its own header and colour, and goes live', { timeout: 60_000 }, async () => {
    const session = await createSession(server, { title: 'Team page' })
    await publish(server, session, chunk(session, 'Rendered on the server'))
    const pageUrl = `${server.url}/team/${session.id}`

    // Server-rendered: the team's layout and header around the layer's viewer, with the session in it.
    const html = await (await fetch(pageUrl)).text()
    expect(html).toContain('data-testid="team-nav"')
    expect(html).toContain('data-testid="team-header"')
    expect(html).toContain('Rendered on the server')
    expect(html).toContain('1 messages · 0 terminal lines')
    expect(html).not.toContain('class="session-header"')

    const page = await e2e.newPage()
    await page.goto(pageUrl)
    await page.locator('[data-testid="team-header"] [data-testid="connection-status"][data-state="live"]').waitFor()
    // The overridden header replaced the layer's inside the layer's own DsSessionViewerLayout.
    expect(await page.getByTestId('team-header').locator('h1').textContent()).toBe('Team page')
    expect(await page.getByTestId('copy-viewer-link').count()).toBe(0)

    // New events arrive live, in the layer's message list and in the page's own useSession summary.
    await publish(server, session, [chunk(session, 'Arrived live', 2), { channel: 'agentState', data: { agentId: session.agentId, status: 'running', turn: 2 } }])
    const live = page.getByTestId('message').filter({ hasText: 'Arrived live' })
    await live.waitFor()
    await page.getByTestId('team-summary').filter({ hasText: '2 messages' }).waitFor()

    // The team's accent replaced the layer's: on the token, in the layer's own components (the
    // "writing…" of a streaming message), in the overriding header and on the team's own page.
    const accent = await page.evaluate(() => getComputedStyle(document.querySelector('.ds-theme')!).getPropertyValue('--ds-accent').trim())
    expect(accent).toBe('#7c3aed')
    expect(await live.locator('.writing').evaluate(node => getComputedStyle(node).color)).toBe(TEAM_ACCENT)
    expect(await page.getByTestId('team-header').evaluate(node => getComputedStyle(node).borderBottomColor)).toBe(TEAM_ACCENT)
    expect(await page.getByTestId('team-summary').evaluate(node => getComputedStyle(node).color)).toBe(TEAM_ACCENT)
    expect(e2e.pageErrors()).toEqual([])
  })

  it('keeps the layer\'s own pages, with the app\'s overrides in them', async () => {
    const session = await createSession(server, { title: 'Layer page in the app' })
    const response = await fetch(`${server.url}/sessions/${session.id}`)
    expect(response.status).toBe(200)
    const html = await response.text()
    expect(html).toContain('Layer page in the app')
    expect(html).toContain('data-testid="team-header"')
    const page = { headers: { accept: 'text/html' } }
    const missingSession = await fetch(`${server.url}/sessions/no-such-session`, page)
    expect(missingSession.status).toBe(404)
    expect(await missingSession.text()).toContain('This session does not exist')
    // The layer's error page serves the app's own routes too, and does not call every 404 a session.
    const missingPage = await fetch(`${server.url}/team/${session.id}/nothing-here`, page)
    expect(missingPage.status).toBe(404)
    const errorPage = await missingPage.text()
    expect(errorPage).toContain('This page does not exist')
    expect(errorPage).not.toContain('This session does not exist')
  })

  it('runs the README\'s Vue page (app/pages/ask/[id].vue): a collaborator asks the built-in AI agent and the answer streams in; a reload shows the conversation', { timeout: 60_000 }, async () => {
    const withAi = await startSessionServer({
      entry: ENTRY,
      env: { NUXT_DURABLE_SESSIONS_AI_MODEL: 'test:quick', NUXT_DURABLE_SESSIONS_AI_TEST_MODELS: resolve('tests/support/ai-scenarios.mjs') },
    })
    try {
      const created = await api(withAi, 'POST', '/api/sessions', { json: { agent: 'ai' } })
      expect(created.status, created.text).toBe(201)
      const page = await e2e.newPage()
      await page.goto(`${withAi.url}/ask/${created.body.id}?key=${created.body.collaboratorKey}`)
      // Hydrated: the form submits through the Chat, not as a page navigation.
      await page.waitForFunction(() => Boolean((document.querySelector('#__nuxt') as { __vue_app__?: unknown } | null)?.__vue_app__))
      await page.getByLabel('Ask').fill('Who are you?')
      await page.getByLabel('Ask').press('Enter')
      await page.locator('p[data-role="user"]', { hasText: 'Who are you?' }).waitFor()
      await page.locator('p[data-role="assistant"]', { hasText: 'Hello! I am the test model.' }).waitFor()
      await page.reload()
      expect(await page.locator('p[data-role]').allInnerTexts()).toEqual(['Who are you?', 'Hello! I am the test model.'])
    }
    finally {
      await withAi.stop()
    }
  })
})
