import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import { useBrowser } from '../support/browser'
import type { TestServer } from '../support/server'
import { createSession, publish, startSessionServer } from '../support/sessions'

/**
 * axe-core (the engine behind Lighthouse's accessibility audit) finds no violation on the home
 * page, the viewer, the collaborator's viewer and the embed, with a long session in them.
 */

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

const e2e = useBrowser()
let server: TestServer
let session: CreatedSession

beforeAll(async () => {
  server = await startSessionServer()
  session = await createSession(server, { title: 'Accessible session', public: true })
  const events: unknown[] = [{ channel: 'agentState', data: { agentId: session.agentId, status: 'running', progress: 30 } }]
  for (let n = 0; n < 300; n++) {
    events.push({ channel: 'chunks', data: { agentId: session.agentId, turn: Math.floor(n / 10), text: `Token ${n}, with **bold** and \`code\`. ` } })
    if (n % 5 === 0) events.push({ channel: 'terminal', data: { type: 'output', source: 'agent', data: `\u001B[32mline ${n}\u001B[39m` } })
    if (n % 10 === 0) events.push({ channel: 'toolCalls', data: { agentId: session.agentId, tool: 'read_file', input: { n }, status: 'complete', output: { ok: true } } })
  }
  events.push({ channel: 'workflow', data: { id: 'request-1', type: 'approval:requested', payload: { title: 'Deploy to staging' } } })
  await publish(server, session, events)
}, 60_000)
afterAll(() => server?.stop())

interface AxeViolation {
  id: string
  help: string
  nodes: Array<{ target: string[] }>
}

async function violations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: AXE_SOURCE })
  const found = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: () => Promise<{ violations: AxeViolation[] }> } }).axe
    return (await axe.run()).violations
  })
  return found.map(violation => `${violation.id}: ${violation.help} (${violation.nodes.map(node => node.target.join(' ')).join(', ')})`)
}

async function open(path: string): Promise<Page> {
  // The pages' CSP refuses injected scripts: axe is let in by bypassing it in this context only.
  const page = await e2e.newPage({ bypassCSP: true })
  await page.goto(`${server.url}${path}`)
  return page
}

describe('axe-core', () => {
  it('finds no violation on the home page', async () => {
    const page = await open('/')
    await page.getByTestId('session-filter').waitFor()
    expect(await violations(page)).toEqual([])
  })

  it('finds no violation on the viewer and the collaborator\'s viewer of a long session', async () => {
    for (const path of [`/sessions/${session.id}`, `/sessions/${session.id}?key=${encodeURIComponent(session.collaboratorKey)}`]) {
      const page = await open(path)
      await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
      expect(await violations(page), path).toEqual([])
    }
  })

  it('finds no violation on the embed', async () => {
    const page = await open(`/embed/sessions/${session.id}?panels=messages,terminal,tools,approvals&theme=dark`)
    await page.getByTestId('message').first().waitFor()
    expect(await violations(page)).toEqual([])
  })
})
