import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSession } from '@durable-sessions/agent'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useBrowser } from '../support/browser'
import type { TestServer } from '../support/server'
import { eventually, startSessionServer } from '../support/sessions'
import { messagesOfType, runBridge } from '../support/agent'

/**
 * The steering loop closed, in real Chromium: a collaborator's clicks decide an agent's
 * approval request (SDK), and what they type in the viewer reaches a program run by the
 * terminal bridge in a real pseudo-terminal.
 */

const e2e = useBrowser()
let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

/** A collaborator named Ada on a session page, once its live connection is up. */
async function openAsAda(url: string): Promise<Page> {
  const context = await e2e.newContext()
  await context.addInitScript(() => {
    // Runs in every frame, including about:blank, where localStorage is off limits.
    if (location.protocol.startsWith('http')) localStorage.setItem('durable-sessions:identity:display-name', 'Ada')
  })
  const page = await context.newPage()
  await page.goto(url)
  await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
  return page
}

describe('requestApproval', () => {
  it('resolves when a collaborator clicks Approve', { timeout: 60_000 }, async () => {
    const session = await createSession({ server: server.url, title: 'Approve in the browser' })
    const page = await openAsAda(session.collaborateUrl!)
    const decision = session.requestApproval({ title: 'Merge fix/flaky-test', description: 'Six lines in cart.ts' })
    const request = page.getByRole('article', { name: 'Approval request: Merge fix/flaky-test' })
    await request.getByText('Six lines in cart.ts').waitFor()
    await request.getByTestId('approve').click()
    expect(await decision).toMatchObject({ approved: true, actor: 'Ada' })
    expect(await decision).not.toHaveProperty('reason')
    await session.close({ status: 'completed' })
  })

  it('resolves with the reason of a rejection typed in the viewer', { timeout: 60_000 }, async () => {
    const session = await createSession({ server: server.url, title: 'Reject in the browser' })
    const page = await openAsAda(session.collaborateUrl!)
    const decision = session.requestApproval({ title: 'Deploy to production' })
    const request = page.getByRole('article', { name: 'Approval request: Deploy to production' })
    await request.getByTestId('decision-reason').fill('Not on a Friday')
    await request.getByTestId('reject').click()
    expect(await decision).toEqual({ approved: false, actor: 'Ada', reason: 'Not on a Friday', requestId: expect.any(String) })
    // The viewer's history shows the reason too.
    await page.locator('[data-workflow-type="approval:rejected"]').getByText('Not on a Friday').waitFor()
    await session.close()
  })
})

it('bridge: the viewer shows the program, a collaborator\'s input reaches it, and its exit ends the session', { timeout: 90_000 }, async () => {
  const linksFile = join(mkdtempSync(join(tmpdir(), 'ds-bridge-')), 'links.json')
  const bridge = runBridge(['--server', server.url, '--links-file', linksFile, '--', 'bash', '-c', 'echo ready; read l; echo "got:$l"; exit 3'])
  const links = await eventually(async () => {
    try {
      return JSON.parse(readFileSync(linksFile, 'utf8')) as { id: string, collaborateUrl: string }
    }
    catch {
      return undefined
    }
  }, 'the bridge wrote its links file')
  const page = await openAsAda(links.collaborateUrl)
  await page.getByTestId('terminal-line').filter({ hasText: /^ready$/ }).waitFor()

  const input = page.getByTestId('terminal-input')
  await input.fill('hello from the browser')
  await input.press('Enter')

  expect(await bridge.exited).toBe(3)
  expect(bridge.stdout).toContain('got:hello from the browser')
  const outputs = (await messagesOfType(server, links.id, 'terminal')).map(entry => entry.value!.data)
  expect(outputs).toContain('got:hello from the browser')
  expect((await messagesOfType(server, links.id, 'state')).at(-1)!.value).toMatchObject({ status: 'error', message: 'Exited with code 3' })
  await page.getByTestId('terminal-line').filter({ hasText: 'got:hello from the browser' }).waitFor()
  const head = await fetch(`${server.url}/v1/stream/sessions/${links.id}`, { method: 'HEAD' })
  expect(head.headers.get('stream-closed')).toBe('true')
})

it('an empty session shows its creator the bridge command; running it connects the agent and the card goes', { timeout: 90_000 }, async () => {
  const page = await e2e.newPage()
  await page.goto(server.url)
  await page.getByLabel(/Title/).fill('Waiting for my agent')
  await page.getByTestId('create-session').click()
  await page.waitForURL(/\/sessions\/[\w-]+$/)
  const sessionId = new URL(page.url()).pathname.split('/').pop()!
  const command = (await page.getByTestId('connect-command').innerText()).trim()
  const token = await page.evaluate(id => localStorage.getItem(`durable-sessions:agent-token:${id}`), sessionId)
  expect(command).toBe(`npx durable-sessions run --server ${server.url} --session ${sessionId} --token ${token} -- <your agent>`)
  expect(await page.getByTestId('connect-sdk').innerText()).toContain(`agentToken: '${token}'`)

  // A viewer without the token sees no card (and no token).
  const viewer = await e2e.newPage()
  await viewer.goto(`${server.url}/sessions/${sessionId}`)
  await viewer.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
  expect(await viewer.getByTestId('connect-agent').count()).toBe(0)
  expect(await viewer.content()).not.toContain(token!)

  // The command as shown, with a real program in place of <your agent>.
  const args = command.replace(/^npx durable-sessions run /, '').replace(/ -- <your agent>$/, '').split(' ')
  const bridge = runBridge([...args, '--keep-open', '--', 'bash', '-c', 'echo connected from the card'])
  expect(await bridge.exited).toBe(0)
  await page.getByTestId('terminal-line').filter({ hasText: 'connected from the card' }).waitFor()
  expect(await page.getByTestId('connect-agent').count()).toBe(0)
})

