import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Frame, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import { readmeScreenshot, useBrowser } from '../support/browser'
import type { TestServer } from '../support/server'
import { api, as, createSession, eventually, publish, sleep, snapshot, startSessionServer } from '../support/sessions'

/**
 * What the server renders and what the browser makes of it: share links readable before any
 * script runs (and with JavaScript off), agent output that stays text, the embed route inside a
 * real iframe on another origin, framing refused elsewhere, and the 404 page.
 */

const e2e = useBrowser()
let server: TestServer
/** Another origin playing the site that embeds a session: listed in NUXT_DURABLE_SESSIONS_EMBED_ORIGINS. */
let parent: Server
let parentOrigin: string
/** The same site on an origin that is not listed. */
let stranger: Server
let strangerOrigin: string

async function embeddingSite(): Promise<{ site: Server, origin: string }> {
  const site = createServer((request, response) => {
    const query = new URL(request.url ?? '/', 'http://parent').searchParams
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    response.end(parentPage(query.get('html') ?? iframe(query.get('src') ?? '')))
  })
  await new Promise<void>(resolve => site.listen(0, '127.0.0.1', resolve))
  return { site, origin: `http://127.0.0.1:${(site.address() as AddressInfo).port}` }
}

beforeAll(async () => {
  ;({ site: parent, origin: parentOrigin } = await embeddingSite())
  ;({ site: stranger, origin: strangerOrigin } = await embeddingSite())
  server = await startSessionServer({ env: { NUXT_DURABLE_SESSIONS_EMBED_ORIGINS: parentOrigin } })
})
afterAll(async () => {
  await server?.stop()
  await Promise.all([parent, stranger].map(site => new Promise(resolve => site ? site.close(resolve) : resolve(undefined))))
})

function iframe(src: string): string {
  const attribute = src.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')
  return `<iframe src="${attribute}" title="Agent session" onload="window.frameLoaded = true"></iframe>`
}

/**
 * The embedding site: one iframe (given as markup, e.g. the snippet the Embed dialog shows),
 * sized to the height the embed posts, and a log of those posts.
 */
function parentPage(frameMarkup: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Embedding site</title>
<style>
  body { margin: 0; padding: 24px 48px; font-family: system-ui, sans-serif; background: #f6f8fa; color: #1f2328; }
  iframe { display: block; inline-size: 100%; block-size: 300px; border: 1px solid #d1d9e0; border-radius: 8px; }
</style>
<script>
  window.heights = [];
  window.frameLoaded = false;
  addEventListener('message', (event) => {
    if (!event.data || event.data.type !== 'durable-sessions:height') return;
    window.heights.push({ origin: event.origin, sessionId: event.data.sessionId, height: event.data.height });
    document.querySelector('iframe').style.blockSize = event.data.height + 'px';
  });
</script></head>
<body><h1>Release notes</h1><p>Watch the agent that prepared this release, live:</p>
${frameMarkup}</body></html>`
}

const viewerLink = (session: CreatedSession) => `${server.url}/sessions/${session.id}`

/** The HTML with every <script> element removed: what a reader sees before any script runs. */
const withoutScripts = (html: string) => html.replace(/<script\b[\s\S]*?<\/script>/gi, '')

describe('server rendering', () => {
  it('the HTML of a share link holds the messages, tool calls and Open Graph tags before any script runs', { timeout: 60_000 }, async () => {
    const tag = randomUUID().slice(0, 8)
    const title = `Refactor the cart ${tag}`
    const session = await createSession(server, { title })
    const messageText = `Reading the cart module first ${tag}.`
    await publish(server, session, [
      { channel: 'chunks', data: { agentId: session.agentId, text: messageText, turn: 1 } },
      { channel: 'toolCalls', data: { id: `t1-${tag}`, agentId: session.agentId, tool: 'read_file', input: { path: 'cart.ts' }, status: 'complete', output: { lines: 42 }, duration: 120 } },
      { channel: 'toolCalls', data: { id: `t2-${tag}`, agentId: session.agentId, tool: 'run_typecheck', input: {}, status: 'running' } },
      { channel: 'terminal', data: { type: 'output', source: 'agent', data: `5 passed ${tag}` } },
      { channel: 'agentState', data: { agentId: session.agentId, status: 'running', progress: 40 } },
    ])

    // Plain HTTP: no browser, no script.
    const response = await fetch(viewerLink(session))
    expect(response.status).toBe(200)
    const html = await response.text()
    const markup = withoutScripts(html)
    expect(markup).toContain(messageText)
    expect(markup).toContain('read_file')
    expect(markup).toContain('run_typecheck')
    expect(markup).toContain(`5 passed ${tag}`)
    expect(markup).toMatch(/data-testid="message"/)
    expect(markup).toMatch(/data-testid="tool-call"[^>]*data-status="running"|data-status="running"[^>]*data-testid="tool-call"/)
    expect(markup).toContain(`<meta property="og:title" content="${title}">`)
    expect(markup).toMatch(/<meta property="og:description" content="Agent running · 40% — Reading the cart module first/)
    expect(markup).toMatch(/<meta property="og:url" content="http:\/\/127\.0\.0\.1:\d+\/sessions\//)
    expect(markup).toContain(`<title>${title} · Durable Sessions</title>`)

    // A browser with JavaScript off shows the same.
    const page = await e2e.newPage({ javaScriptEnabled: false })
    await page.goto(viewerLink(session))
    await page.getByTestId('message').filter({ hasText: messageText }).waitFor()
    expect(await page.getByTestId('tool-call').allInnerTexts()).toEqual([expect.stringContaining('read_file'), expect.stringContaining('run_typecheck')])
    expect(await page.getByTestId('terminal-line').filter({ hasText: `5 passed ${tag}` }).count()).toBe(1)
    expect(await page.title()).toBe(`${title} · Durable Sessions`)
    expect(await page.locator('h1').innerText()).toContain(title)
  })

  it('agent output containing HTML or script stays inert text, on the server render and live', { timeout: 60_000 }, async () => {
    const session = await createSession(server, { title: '<img src=x onerror="window.__pwned=9"> title' })
    const payload = (n: number) => `<img src=x onerror="window.__pwned=${n}"><script>window.__pwned=${n + 1}</script>`
    const terminal = (n: number) => `<b>bold ${n}</b><img src=x onerror="window.__pwned=${n}">`
    // Rendered by the server…
    await publish(server, session, [
      { channel: 'chunks', data: { agentId: session.agentId, text: payload(1), turn: 1 } },
      { channel: 'chunks', data: { agentId: session.agentId, text: '[click me](javascript:window.__pwned=3)', turn: 2 } },
      { channel: 'terminal', data: { type: 'output', source: 'agent', data: terminal(4) } },
      { channel: 'toolCalls', data: { agentId: session.agentId, tool: '<img src=x onerror="window.__pwned=5">', input: { html: payload(6) }, status: 'complete' } },
    ])

    // In the server's HTML every bit of it is escaped text — the only unescaped `<` left is inside
    // a quoted attribute value (og:title), where it is inert.
    const html = await (await fetch(viewerLink(session))).text()
    const outsideAttributes = html.replace(/"[^"]*"/g, '""')
    expect(outsideAttributes).not.toContain('<img src=x')
    expect(outsideAttributes).not.toContain('<script>window.__pwned')
    expect(outsideAttributes).not.toContain('<b>bold')
    expect(html).toContain('&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;&lt;script&gt;window.__pwned=2&lt;/script&gt;')

    const page = await e2e.newPage()
    await page.goto(viewerLink(session))
    await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
    // …and arriving live.
    await publish(server, session, [
      { channel: 'chunks', data: { agentId: session.agentId, text: payload(11), turn: 3 } },
      { channel: 'terminal', data: { type: 'output', source: 'agent', data: terminal(13) } },
    ])
    await page.getByTestId('message').filter({ hasText: '__pwned=12' }).waitFor()
    await page.getByTestId('terminal-line').filter({ hasText: 'bold 13' }).waitFor()
    // Give an injected image time to fail loading and run its handler, if one had been created.
    await sleep(500)

    // Shown as text, literally.
    const messages = await page.getByTestId('message').allInnerTexts()
    for (const n of [1, 11]) {
      expect(messages.some(text => text.includes(`<img src=x onerror="window.`) && text.includes(`<script>window.__pwned=${n + 1}</script>`)), `message ${n}`).toBe(true)
    }
    const lines = await page.getByTestId('terminal-line').allInnerTexts()
    expect(lines.some(text => text.includes(terminal(4)))).toBe(true)
    expect(lines.some(text => text.includes(terminal(13)))).toBe(true)
    expect(await page.getByTestId('tool-call').innerText()).toContain('<img src=x onerror="window.__pwned=5">')
    expect(await page.locator('h1').innerText()).toContain('<img src=x onerror="window.__pwned=9"> title')
    expect(await page.getByText('click me').count()).toBeGreaterThan(0)

    // Nothing was made an element, nothing ran.
    const dom = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: unknown }).__pwned,
      images: document.querySelectorAll('img[src="x"]').length,
      scripts: [...document.scripts].filter(script => script.type !== 'application/json' && (script.textContent ?? '').includes('__pwned')).length,
      bold: document.querySelectorAll('[data-testid="terminal-line"] b').length,
      javascriptLinks: [...document.querySelectorAll('a')].filter(link => /^\s*javascript:/i.test(link.getAttribute('href') ?? '')).length,
      ogTitle: document.querySelector('meta[property="og:title"]')?.getAttribute('content'),
    }))
    expect(dom).toEqual({ pwned: undefined, images: 0, scripts: 0, bold: 0, javascriptLinks: 0, ogTitle: '<img src=x onerror="window.__pwned=9"> title' })
    expect(e2e.pageErrors()).toEqual([])
  })
})

describe('the embed route', () => {
  it('renders only the chosen panels in the chosen theme inside an iframe on an allowed origin, and posts its height', { timeout: 60_000 }, async () => {
    const session = await createSession(server, { title: 'Embedded demo' })
    const demo = await api(server, 'POST', `/api/sessions/${session.id}/demo`, { json: { speed: 50 }, headers: as('agent', session, server) })
    expect(demo.status).toBe(202)
    const waiting = await eventually(async () => {
      const snap = await snapshot(server, session.id)
      return snap.state.agentState[session.agentId]?.status === 'paused' ? snap : undefined
    }, 'the demo waits for approval', 30_000)
    expect(waiting.state.toolCalls.length).toBeGreaterThan(0)

    // The snippet comes from the viewer's Embed dialog: messages and terminal only, dark.
    const viewer = await e2e.newPage()
    await viewer.goto(viewerLink(session))
    await viewer.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
    await viewer.getByTestId('embed-button').click()
    const dialog = viewer.getByRole('dialog')
    await dialog.getByLabel('Tool calls').uncheck()
    await dialog.getByLabel('Approvals').uncheck()
    await dialog.getByLabel('Dark').check()
    const snippet = (await viewer.getByTestId('embed-snippet').innerText()).trim()
    expect(snippet).toMatch(/^<iframe [^>]*><\/iframe>$/)
    const src = snippet.match(/src="([^"]+)"/)![1]!.replace(/&amp;/g, '&')
    expect(src).toBe(`${server.url}/embed/sessions/${session.id}?panels=messages%2Cterminal&theme=dark`)

    // Pasted into a page of another origin (one NUXT_DURABLE_SESSIONS_EMBED_ORIGINS lists).
    const page = await e2e.newPage()
    await page.goto(`${parentOrigin}/?html=${encodeURIComponent(snippet)}`)
    const frame = await embeddedFrame(page)
    await frame.locator('[data-testid="connection-status"][data-state="live"]').waitFor()

    // Messages and terminal, as the server has them…
    expect(await frame.getByTestId('message').count()).toBe(waiting.state.messages.length)
    expect(await frame.getByTestId('terminal-line').count()).toBe(waiting.state.terminal.length)
    // …and nothing else: no tools, no approvals, no share buttons, no cursors.
    expect(await frame.getByTestId('tool-call').count()).toBe(0)
    expect(await frame.getByRole('heading', { name: /Tool calls/ }).count()).toBe(0)
    expect(await frame.getByTestId('approve').count()).toBe(0)
    for (const testId of ['copy-viewer-link', 'copy-collaborate-link', 'embed-button', 'remote-cursor']) {
      expect(await frame.getByTestId(testId).count(), testId).toBe(0)
    }
    expect(await frame.locator('.ds-theme[data-theme="dark"]').count()).toBeGreaterThan(0)
    const background = await frame.locator('.ds-theme[data-theme="dark"]').first().evaluate(node => getComputedStyle(node).getPropertyValue('--ds-bg').trim())
    expect(background).toBe('#0d1117')

    // The height reached the parent, from the server's origin, for this session; once the parent
    // has sized the frame to it, the posts settle (a frame sized to its content stays that size).
    type Post = { origin: string, sessionId: string, height: number }
    const posted = () => page.evaluate(() => (window as unknown as { heights: Post[] }).heights)
    const heights = await eventually(async () => {
      const before = await posted()
      await sleep(700)
      const after = await posted()
      return after.length > 0 && after.length === before.length ? after : undefined
    }, 'the embed posts its height and it settles', 15_000)
    expect(heights.every(post => post.origin === server.url && post.sessionId === session.id)).toBe(true)
    const last = heights.at(-1)!.height
    expect(last).toBeGreaterThan(200)
    // The whole viewer fits the frame: nothing to scroll inside it.
    const frameHeight = await page.locator('iframe').evaluate(node => node.clientHeight)
    expect(Math.abs(frameHeight - last)).toBeLessThanOrEqual(1)
    expect(await frame.evaluate(() => document.documentElement.scrollHeight)).toBeLessThanOrEqual(Math.ceil(frameHeight) + 1)

    await readmeScreenshot(page, 'embed-dark', { fullPage: true })
  })

  it('writes only when its URL asks for interactive=1 and a listed origin frames it', { timeout: 90_000 }, async () => {
    const session = await createSession(server, { title: 'Interactive embed' })
    await publish(server, session, { channel: 'workflow', data: { type: 'approval:requested', payload: { title: 'Ship it?' }, actor: session.agentId } })
    // Every embed URL here carries the collaborator key: holding it is not enough.
    const embed = (extra: string) => `${server.url}/embed/sessions/${session.id}?panels=terminal,approvals&key=${encodeURIComponent(session.collaboratorKey)}${extra}`
    const page = await e2e.newPage()
    /** The embed's write controls once it is live (credentials are read once mounted, before that). */
    const controls = async (frame: Frame) => {
      await frame.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
      return { typing: await frame.getByTestId('terminal-input').isEnabled(), approving: await frame.getByTestId('approve').count() }
    }
    const framedBy = async (site: string, markup: string) => {
      await page.goto(`${site}/?html=${encodeURIComponent(markup)}`)
      return embeddedFrame(page)
    }

    // Asked for, on a listed origin: the collaborator can type and decide.
    expect(await controls(await framedBy(parentOrigin, iframe(embed('&interactive=1'))))).toEqual({ typing: true, approving: 1 })
    // Not asked for, on the same origin: read-only.
    expect(await controls(await framedBy(parentOrigin, iframe(embed(''))))).toEqual({ typing: false, approving: 0 })
    // Asked for, but the listed page withholds who it is (no Referer): read-only.
    const withheld = iframe(embed('&interactive=1')).replace('<iframe ', '<iframe referrerpolicy="no-referrer" ')
    expect(await controls(await framedBy(parentOrigin, withheld))).toEqual({ typing: false, approving: 0 })
    // Asked for, opened as a page of its own rather than framed: read-only.
    await page.goto(embed('&interactive=1'))
    expect(await controls(page.mainFrame())).toEqual({ typing: false, approving: 0 })
    // Asked for, on an origin that is not listed: nothing is shown at all.
    await page.goto(`${strangerOrigin}/?src=${encodeURIComponent(embed('&interactive=1'))}`)
    await page.waitForFunction(() => (window as unknown as { frameLoaded: boolean }).frameLoaded)
    const strangers = page.frames().find(candidate => candidate !== page.mainFrame())!
    expect(await strangers.getByTestId('terminal-input').count()).toBe(0)
    expect(await strangers.evaluate(() => document.body?.innerText ?? '').catch(() => '')).not.toContain('Ship it?')
  })

  it('allows framing by its origin list only, and the viewer page refuses all framing', { timeout: 60_000 }, async () => {
    const session = await createSession(server, { title: 'No framing' })
    await publish(server, session, { channel: 'chunks', data: { agentId: session.agentId, text: 'Not for frames.', turn: 1 } })

    const viewer = await fetch(viewerLink(session))
    expect(viewer.headers.get('x-frame-options')).toBe('DENY')
    expect(viewer.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/)
    const embed = await fetch(`${server.url}/embed/sessions/${session.id}`)
    expect(embed.status).toBe(200)
    expect(embed.headers.get('x-frame-options')).toBeNull()
    expect(embed.headers.get('content-security-policy')).toContain(`frame-ancestors 'self' ${parentOrigin}`)

    // In the browser: the viewer page stays empty in the listed site's iframe, and so does the
    // embed on a site that is not listed; the embed on the listed site shows (the control).
    const page = await e2e.newPage()
    const framed = async (site: string, url: string) => {
      await page.goto(`${site}/?src=${encodeURIComponent(url)}`)
      await page.waitForFunction(() => (window as unknown as { frameLoaded: boolean }).frameLoaded)
      const frame = page.frames().find(candidate => candidate !== page.mainFrame())!
      expect(frame).toBeDefined()
      return {
        messages: await frame.locator('[data-testid="message"]').count(),
        text: await frame.evaluate(() => document.body?.innerText ?? '').catch(() => ''),
      }
    }
    const embedUrl = `${server.url}/embed/sessions/${session.id}`
    expect(await framed(parentOrigin, embedUrl)).toMatchObject({ messages: 1, text: expect.stringContaining('Not for frames.') })
    for (const [site, url] of [[parentOrigin, viewerLink(session)], [strangerOrigin, embedUrl], [strangerOrigin, viewerLink(session)]] as const) {
      const shown = await framed(site, url)
      expect(shown.messages, `${url} framed by ${site}`).toBe(0)
      expect(shown.text, `${url} framed by ${site}`).not.toContain('Not for frames.')
    }
  })
})

describe('raw streams', () => {
  it('an HTML stream opened in the browser — as a page or in another site\'s frame — is downloaded, never run', { timeout: 60_000 }, async () => {
    const tag = randomUUID().slice(0, 8)
    const markup = '<!doctype html><title>pwned</title><script>localStorage.setItem("pwned", "script"); fetch("/pwned-by-stream")</script>'
      + '<img src=x onerror="localStorage.setItem(\'pwned\', \'img\')">'
    const write = (path: string, type: string) => fetch(`${server.url}/v1/stream/${path}`, { method: 'PUT', headers: { 'content-type': type, 'authorization': `Bearer ${server.token}` }, body: markup })
    expect((await write(`raw/page-${tag}`, 'text/html; charset=utf-8')).status).toBe(201)
    expect((await write(`raw/text-${tag}`, 'text/plain')).status).toBe(201)
    const url = `${server.url}/v1/stream/raw/page-${tag}?offset=-1`

    const context = await e2e.newContext()
    const requests: string[] = []
    context.on('request', request => requests.push(request.url()))
    // A link to the stream: Chromium downloads it instead of rendering it.
    const page = await context.newPage()
    const downloaded = page.waitForEvent('download')
    await page.goto(url).catch(() => undefined)
    expect((await downloaded).url()).toBe(url)
    // Framed by another site (a rendered frame would have this origin's storage): downloaded too.
    const framing = await context.newPage()
    const frameDownloaded = framing.waitForEvent('download')
    await framing.goto(`${strangerOrigin}/?src=${encodeURIComponent(url)}`)
    expect((await frameDownloaded).url()).toBe(url)

    // The same markup in a text stream opens as text, in a sandbox without an origin.
    await page.goto(`${server.url}/v1/stream/raw/text-${tag}?offset=-1`)
    expect(await page.evaluate(() => ({ origin: window.origin, text: document.body.innerText }))).toEqual({ origin: 'null', text: markup })

    // Nothing ran: no mark in the app origin's storage, no request the script would have made.
    const app = await context.newPage()
    await app.goto(server.url)
    expect(await app.evaluate(() => localStorage.getItem('pwned'))).toBeNull()
    expect(requests.filter(request => request.includes('pwned'))).toEqual([])
  })
})

describe('unknown sessions', () => {
  it('get the 404 page, on the viewer and the embed route', { timeout: 30_000 }, async () => {
    const page = await e2e.newPage()
    for (const path of [`/sessions/unknown-${randomUUID()}`, `/embed/sessions/unknown-${randomUUID()}`]) {
      const response = await page.goto(`${server.url}${path}`)
      expect(response?.status(), path).toBe(404)
      expect(await page.getByTestId('error-title').innerText()).toBe('This session does not exist')
      expect(await page.title()).toBe('Not found · Durable Sessions')
      expect(await page.getByTestId('message').count()).toBe(0)
    }
    // The way back works: it leads home, and the unknown session's page is not tried again on the way
    // (that late 404 would put the error page back up over the home page).
    const snapshotRequests: string[] = []
    page.on('request', (request) => {
      if (request.url().includes('/snapshot')) snapshotRequests.push(request.url())
    })
    await page.getByRole('link', { name: 'Back to all sessions' }).click()
    await page.waitForURL(`${server.url}/`)
    await page.getByTestId('session-filter').waitFor()
    await sleep(500)
    expect(await page.getByTestId('error-title').count()).toBe(0)
    expect(await page.getByTestId('session-filter').isVisible()).toBe(true)
    expect(snapshotRequests).toEqual([])
  })
})

/** The iframe's frame once it has navigated to the embed. */
async function embeddedFrame(page: Page): Promise<Frame> {
  return eventually(async () => page.frames().find(frame => frame !== page.mainFrame() && frame.url().includes('/embed/sessions/')), 'the iframe loads the embed', 15_000)
}
