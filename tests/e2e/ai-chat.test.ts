import { resolve } from 'node:path'
import type { BrowserContextOptions, Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
// Plain ESM shared with the built server: the scripted answer it is started with.
import { SCENARIOS } from '../support/ai-scenarios.mjs'
import { occurrences, readmeScreenshot, useBrowser } from '../support/browser'
import type { TestServer } from '../support/server'
import { api, eventually, snapshot, startSessionServer } from '../support/sessions'

/**
 * The built-in AI agent in real Chromium: a collaborator asks it on the chat page (@ai-sdk/vue's
 * Chat on SessionChatTransport), a read-only viewer watches the conversation live in the session
 * viewer, a collaborator approves the agent's tool there, and the answer survives a reload and a
 * kill -9 of the server: shown whole, each word once. The agent is the AI SDK's test model
 * playing tests/support/ai-scenarios.mjs's `steady` answer (about 3 s of words, a tool that waits
 * for approval, a last line). With E2E_SCREENSHOTS=1 the viewer and the chat page are saved for
 * the README in both themes, and the chat page waiting for an approval.
 */

const SCENARIO = SCENARIOS.steady
const stepText = (step: (typeof SCENARIO.steps)[number]) => step.flatMap(item => 'text' in item ? [item.text] : []).join('')
const FIRST_STEP = stepText(SCENARIO.steps[0]!)
const LAST_STEP = stepText(SCENARIO.steps[1]!)
/** The whole answer, whitespace aside (a page's text loses the spaces between paragraphs). */
const ANSWER = squeeze(`${FIRST_STEP}${LAST_STEP}`)
/** A phrase that occurs once in the answer: seen twice, something was shown twice. */
const PHRASE = 'reload the chat page'
const QUESTION = 'Write something slowly, then print a line'
const TERMINAL_LINE = 'hello from the AI agent'

const e2e = useBrowser()
let server: TestServer

beforeAll(async () => {
  server = await startSessionServer({
    env: { NUXT_DURABLE_SESSIONS_AI_MODEL: 'test:steady', NUXT_DURABLE_SESSIONS_AI_TEST_MODELS: resolve('tests/support/ai-scenarios.mjs') },
  })
})
afterAll(() => server?.stop())

function squeeze(text: string): string {
  return text.replace(/\s+/g, '')
}

async function aiSession(title: string): Promise<CreatedSession> {
  const response = await api<CreatedSession>(server, 'POST', '/api/sessions', { json: { title, agent: 'ai' } })
  expect(response.status, response.text).toBe(201)
  return response.body
}

/** A browser context of a user with a display name (own storage: own identity, own keys). */
async function userContext(name: string, options: BrowserContextOptions = {}) {
  const context = await e2e.newContext(options)
  await context.addInitScript((displayName) => {
    if (location.protocol.startsWith('http')) localStorage.setItem('durable-sessions:identity:display-name', displayName)
  }, name)
  return context
}

/** The chat page of a session, opened with the collaborate key, ready to send. */
async function openChat(page: Page, session: CreatedSession): Promise<void> {
  await page.goto(`${server.url}/sessions/${session.id}/chat?key=${session.collaboratorKey}`)
  await page.getByTestId('chat-input').and(page.locator(':enabled')).waitFor()
}

/** The session viewer, once live. */
async function openViewer(page: Page, url: string): Promise<void> {
  await page.goto(url)
  await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
}

const answerOnChat = (page: Page) => page.locator('[data-testid="chat-message"][data-role="assistant"]')

/** The text of every text part of a locator's elements, squeezed. */
async function textOf(locator: Locator): Promise<string> {
  return squeeze((await locator.allInnerTexts()).join(''))
}

/** The text of the agent's messages in the viewer's messages panel (without their headers), squeezed. */
const viewerAnswer = (page: Page) => textOf(page.getByTestId('message').locator('.body'))

/** The session once its one answer is complete (its last words may reach a page before the answer's status). */
async function answered(session: CreatedSession) {
  const state = await eventually(async () => {
    const { state } = await snapshot(server, session.id)
    return state.answers[0]?.status === 'complete' ? state : undefined
  }, 'the answer is complete')
  expect(state.answers).toHaveLength(1)
  return state
}

async function waitForText(what: string, read: () => Promise<string>, expected: string): Promise<void> {
  await eventually(async () => (await read()) === expected || undefined, what, 30_000).catch(async (error: Error) => {
    throw new Error(`${error.message}\nshown:    ${await read()}\nexpected: ${expected}`)
  })
}

describe('the chat page and the viewer, with the built-in AI agent', () => {
  it('a prompt sent on the chat page: a reload mid-answer shows the answer once and whole, a viewer follows live, an approval in the viewer lets the agent finish', { timeout: 120_000 }, async () => {
    const session = await aiSession('Ask the AI in the browser')
    const ada = await (await userContext('Ada')).newPage()
    await openChat(ada, session)

    // A second browser, without the key: read-only, live.
    const viewer = await (await userContext('Viewer Vic')).newPage()
    await openViewer(viewer, `${server.url}/sessions/${session.id}`)
    expect(await viewer.getByTestId('prompt-input').isDisabled()).toBe(true)
    expect(await viewer.getByTestId('prompt-read-only').innerText()).toContain('Open a collaborate link to message the agent')

    // Another collaborator on the chat page: someone else's prompt shows there too.
    const bob = await (await userContext('Bob')).newPage()
    await openChat(bob, session)

    await ada.getByTestId('chat-input').fill(QUESTION)
    await ada.getByTestId('chat-input').press('Enter')
    await ada.locator('[data-testid="chat-message"][data-role="user"]').filter({ hasText: QUESTION }).waitFor()
    // Some words in: reload in the middle of the answer (it cannot end before the approval below).
    await eventually(async () => (await textOf(answerOnChat(ada).getByTestId('chat-text'))).length >= 20 || undefined, 'the answer has begun on the chat page')
    await ada.reload()

    // The viewer sees the prompt, named, and the answer, live.
    const prompt = viewer.getByTestId('prompt').filter({ hasText: QUESTION })
    await prompt.waitFor()
    expect(await prompt.getByTestId('prompt-author').innerText()).toBe('Ada')
    await waitForText('the first step of the answer in the viewer', () => viewerAnswer(viewer), squeeze(FIRST_STEP))

    // After the reload, the chat page shows the whole first step once, and the tool waiting.
    await waitForText('the first step on the reloaded chat page', () => textOf(answerOnChat(ada).getByTestId('chat-text')), squeeze(FIRST_STEP))
    const tool = answerOnChat(ada).getByTestId('chat-tool')
    await tool.and(ada.locator('[data-state="approval-requested"]')).waitFor()
    expect(await answerOnChat(ada).count()).toBe(1)
    await readmeScreenshot(ada, 'ai-chat-approval')

    // A collaborator approves in the session viewer (Ada's browser holds the key).
    const adaViewer = await ada.context().newPage()
    await openViewer(adaViewer, `${server.url}/sessions/${session.id}`)
    expect(await adaViewer.getByTestId('prompt-input').isEnabled()).toBe(true)
    await adaViewer.getByTestId('approve').click()

    // The agent runs the tool and says its last line: on the chat page, in both viewers.
    await tool.and(ada.locator('[data-state="output-available"]')).waitFor()
    expect(JSON.parse(await tool.getByTestId('chat-tool-output').innerText())).toEqual({ written: true })
    await waitForText('the whole answer on the chat page', () => textOf(answerOnChat(ada).getByTestId('chat-text')), ANSWER)
    await waitForText('the whole answer in the viewer', () => viewerAnswer(viewer), ANSWER)
    await bob.locator('[data-testid="chat-message"][data-role="user"]').filter({ hasText: QUESTION }).waitFor()
    await waitForText('the whole answer on the other collaborator\'s chat page', () => textOf(answerOnChat(bob).getByTestId('chat-text')), ANSWER)
    await viewer.getByTestId('terminal-line').filter({ hasText: TERMINAL_LINE }).waitFor()
    for (const page of [ada, bob, viewer, adaViewer]) expect(occurrences(await page.locator('main').innerText(), PHRASE)).toBe(1)
    expect(await answerOnChat(ada).count()).toBe(1)
    expect(await ada.getByTestId('chat-error').count()).toBe(0)

    const state = await answered(session)
    expect(state.prompts).toEqual([expect.objectContaining({ text: QUESTION, actor: 'Ada' })])
    expect(state.terminal.map(entry => entry.data)).toEqual([TERMINAL_LINE])
    expect(e2e.pageErrors()).toEqual([])
  })

  it('the server killed (SIGKILL) mid-answer and restarted: the chat page keeps what was acknowledged and shows the rest once; approve on the chat page', { timeout: 120_000 }, async () => {
    const session = await aiSession('Crash mid-answer')
    const ada = await (await userContext('Ada')).newPage()
    await openChat(ada, session)
    await ada.getByTestId('chat-input').fill(QUESTION)
    await ada.getByTestId('chat-input').press('Enter')
    await eventually(async () => (await snapshot(server, session.id)).state.chunks.length >= 5 || undefined, 'five words acknowledged')

    await server.kill()
    const acknowledged = await textOf(answerOnChat(ada).getByTestId('chat-text'))
    await server.restart()

    // The restarted server's agent continues the answer; the page resumes its stream.
    const tool = answerOnChat(ada).getByTestId('chat-tool')
    await tool.and(ada.locator('[data-state="approval-requested"]')).waitFor({ timeout: 30_000 })
    await waitForText('the first step after the restart', () => textOf(answerOnChat(ada).getByTestId('chat-text')), squeeze(FIRST_STEP))
    expect(squeeze(FIRST_STEP).startsWith(acknowledged)).toBe(true)
    await tool.getByTestId('chat-approve').click()
    await tool.and(ada.locator('[data-state="output-available"]')).waitFor()
    await waitForText('the whole answer after the restart', () => textOf(answerOnChat(ada).getByTestId('chat-text')), ANSWER)
    expect(occurrences(await ada.locator('main').innerText(), PHRASE)).toBe(1)

    // A reload shows the same, from the session alone.
    await ada.reload()
    await waitForText('the whole answer after a reload', () => textOf(answerOnChat(ada).getByTestId('chat-text')), ANSWER)
    expect(await answerOnChat(ada).count()).toBe(1)
    const state = await answered(session)
    expect(state.terminal.map(entry => entry.data)).toEqual([TERMINAL_LINE])
  })
})

describe('the home page with a model configured', () => {
  it('offers "Start with AI agent" in the server\'s HTML, and it opens the new AI session as a collaborator', { timeout: 60_000 }, async () => {
    const html = await (await fetch(server.url)).text()
    expect(html).toContain('data-testid="create-ai-session"')
    expect(html).not.toContain('data-testid="ai-setup"')

    const page = await (await userContext('Ada')).newPage()
    await page.goto(server.url)
    await page.getByLabel(/Title/).fill('Started from home')
    await page.getByTestId('create-ai-session').click()
    await page.waitForURL(/\/sessions\/[\w-]+$/)
    await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
    await page.getByTestId('prompt-input').and(page.locator(':enabled')).waitFor()
    // The collaborate link's key was kept and left the address bar.
    expect(new URL(page.url()).search).toBe('')
    const sessionId = new URL(page.url()).pathname.split('/').pop()!
    expect((await api(server, 'GET', `/api/sessions/${sessionId}`)).body).toMatchObject({ title: 'Started from home', builtinAgent: 'ai' })
  })
})

describe('the viewer\'s prompt box', () => {
  for (const colorScheme of ['light', 'dark'] as const) {
    it(`a collaborator asks from the viewer and approves there; the chat page renders the conversation from the server (${colorScheme}; README screenshots)`, { timeout: 90_000 }, async () => {
      const session = await aiSession('Print a greeting in the terminal')
      const context = await userContext('Ada', { colorScheme })
      const viewer = await context.newPage()
      await openViewer(viewer, session.collaborateUrl)
      const input = viewer.getByTestId('prompt-input')
      await input.and(viewer.locator(':enabled')).waitFor()
      await input.fill('Please print a greeting in the terminal')
      await input.press('Enter')
      // Optimistic: the prompt is in the conversation, named, before any answer.
      const prompt = viewer.getByTestId('prompt').filter({ hasText: 'Please print a greeting in the terminal' })
      await prompt.waitFor()
      expect(await prompt.getByTestId('prompt-author').innerText()).toBe('Ada')
      expect(await input.inputValue()).toBe('')
      await viewer.getByTestId('approve').click()
      await waitForText('the whole answer in the viewer', () => viewerAnswer(viewer), ANSWER)
      // The prompt comes first in the panel, then the agent's messages.
      const rows = await viewer.locator('[data-testid="prompt"], [data-testid="message"]').evaluateAll(nodes => nodes.map(node => node.getAttribute('data-testid')))
      expect(rows[0]).toBe('prompt')
      expect(rows.slice(1).every(row => row === 'message')).toBe(true)
      await answered(session)

      const chat = await context.newPage()
      await chat.goto(`${server.url}/sessions/${session.id}/chat`)
      await waitForText('the whole answer on the chat page', () => textOf(answerOnChat(chat).getByTestId('chat-text')), ANSWER)
      await answerOnChat(chat).getByTestId('chat-tool').and(chat.locator('[data-state="output-available"]')).waitFor()
      await viewer.getByTestId('prompt-input').fill('Now list who is here')
      const suffix = colorScheme === 'light' ? '' : '-dark'
      await readmeScreenshot(viewer, `ai-viewer${suffix}`)
      await readmeScreenshot(chat, `ai-chat${suffix}`)
    })
  }
})
