import { attachSession, ForbiddenError } from '@durable-sessions/agent'
import { answerPrompts, sessionUIMessages } from '@durable-sessions/agent/ai'
import { SessionChatTransport } from '@durable-sessions/agent/chat'
import { streamText } from 'ai'
import type { UIMessage, UIMessageChunk } from 'ai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import { codingAnswer, decide, joinAsCollaborator, memoryStorage, messageOf, readChunks, scriptedModel, textOf } from '../support/ai'
import type { Collaborator } from '../support/ai'
import type { TestServer } from '../support/server'
import { createSession, eventually, snapshot, startSessionServer } from '../support/sessions'

/** The browser side: SessionChatTransport (as @ai-sdk/vue's Chat uses it) against the built server. */

const LONG_TEXT = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ')

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

interface Setup {
  session: CreatedSession
  ada: Collaborator
  stop: () => void
}

/** A session whose agent answers every prompt with LONG_TEXT, one word every 15 ms. */
async function slowSession(): Promise<Setup> {
  const session = await createSession(server)
  const ada = await joinAsCollaborator(server, session, 'Ada')
  const agent = attachSession({ server: server.url, sessionId: session.id, agentToken: session.agentToken, agentId: session.agentId })
  const answerer = answerPrompts(agent, ({ messages, signal }) => streamText({ model: scriptedModel([[{ text: LONG_TEXT }]], { delayMs: 15 }), messages, abortSignal: signal }))
  return { session, ada, stop: () => { answerer.stop(); agent.detach() } }
}

function transportFor(setup: Setup, options: { storage?: ReturnType<typeof memoryStorage>, fetch?: typeof fetch, collaborator?: boolean } = {}) {
  return new SessionChatTransport({
    server: server.url,
    sessionId: setup.session.id,
    collaboratorKey: options.collaborator === false ? undefined : setup.session.collaboratorKey,
    presenceKey: () => setup.ada.headers['x-presence-key'],
    storage: options.storage ?? memoryStorage(),
    fetch: options.fetch,
  })
}

const userMessage = (id: string, text: string): UIMessage => ({ id, role: 'user', parts: [{ type: 'text', text }] })

function send(transport: SessionChatTransport, message: UIMessage, chatId = 'chat') {
  return transport.sendMessages({ chatId, messages: [message], trigger: 'submit-message', messageId: undefined, abortSignal: undefined })
}

/** A body that fails like a dropped connection after `frames` reads. */
function cutAfter(body: ReadableStream<Uint8Array>, frames: number): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  let read = 0
  return new ReadableStream({
    async pull(controller) {
      if (read++ >= frames) {
        void reader.cancel()
        return controller.error(new TypeError('network error'))
      }
      const { done, value } = await reader.read()
      if (done) controller.close()
      else controller.enqueue(value)
    },
    cancel: () => reader.cancel(),
  })
}

/** A message as JSON has it: keys with undefined values left out. */
const plain = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown

const deltas = (chunks: UIMessageChunk[]) => chunks.filter(chunk => chunk.type === 'text-delta').length

describe('SessionChatTransport', () => {
  it('posts the prompt as the collaborator and streams the answer, approval included, as the conversation holds it', async () => {
    const session = await createSession(server)
    const ada = await joinAsCollaborator(server, session, 'Ada')
    const agent = attachSession({ server: server.url, sessionId: session.id, agentToken: session.agentToken, agentId: session.agentId })
    const answerer = answerPrompts(agent, ({ messages, signal }) => codingAnswer(messages, 0, signal))
    try {
      const transport = new SessionChatTransport({ server: server.url, sessionId: session.id, collaboratorKey: session.collaboratorKey, presenceKey: () => ada.headers['x-presence-key'], storage: memoryStorage() })
      const stream = await send(transport, userMessage('m1', 'Fix the cart test'))
      const chunks = await readChunks(stream, (seen) => {
        const request = seen.find(chunk => chunk.type === 'tool-approval-request')
        // The stream stays open while the answer waits: a decision in the viewer lets it go on.
        if (request && seen.at(-1) === request) void decide(server, session, ada, request.approvalId, true)
        return false
      })
      expect(chunks[0]).toEqual({ type: 'start', messageId: 'm1.answer' })
      expect(chunks.at(-1)).toEqual({ type: 'finish', finishReason: 'stop' })
      const state = (await snapshot(server, session.id)).state
      expect(state.prompts[0]).toMatchObject({ id: 'm1', text: 'Fix the cart test', actor: 'Ada' })
      const [, answer] = sessionUIMessages(state)
      expect(plain(await messageOf(chunks))).toEqual(plain(answer))
    }
    finally {
      answerer.stop()
      agent.detach()
    }
  })

  it('a reload in the middle of the answer replays it from the kept offset: whole, once', async () => {
    const setup = await slowSession()
    try {
      const storage = memoryStorage()
      const first = await readChunks(await send(transportFor(setup, { storage }), userMessage('m1', 'Write')), chunks => deltas(chunks) >= 5)
      expect(textOf(await messageOf(first))).not.toBe(LONG_TEXT)
      // The page is gone; the next one (same tab storage) resumes the chat.
      const resumed = await transportFor(setup, { storage }).reconnectToStream({ chatId: 'chat' })
      const chunks = await readChunks(resumed!)
      expect(textOf(await messageOf(chunks))).toBe(LONG_TEXT)
      expect(deltas(chunks)).toBe(40)
      expect(await transportFor(setup, { storage }).reconnectToStream({ chatId: 'chat' })).toBeNull()
    }
    finally {
      setup.stop()
    }
  })

  it('another tab or another user, with nothing kept, follows the same answer live from the stream', async () => {
    const setup = await slowSession()
    try {
      const sender = readChunks(await send(transportFor(setup), userMessage('m1', 'Write')))
      await eventually(async () => (await snapshot(server, setup.session.id)).state.chunks.length >= 3 || undefined, 'the answer has begun')
      const watcher = await transportFor(setup, { collaborator: false }).reconnectToStream({ chatId: 'other' })
      const [mine, theirs] = await Promise.all([sender, readChunks(watcher!)])
      expect(textOf(await messageOf(theirs))).toBe(LONG_TEXT)
      expect(await messageOf(theirs)).toEqual(await messageOf(mine))
    }
    finally {
      setup.stop()
    }
  })

  it('a dropped connection resumes inside the stream, with nothing missing or repeated', async () => {
    const setup = await slowSession()
    try {
      let failures = 0
      // The first three live reads are cut after a few frames, as a dropped network would.
      const flaky: typeof fetch = async (input, init) => {
        const response = await fetch(input, init)
        if (!String(input).includes('live=sse') || failures >= 3 || !response.body) return response
        failures++
        return new Response(cutAfter(response.body, 3), { status: response.status, headers: response.headers })
      }
      const chunks = await readChunks(await send(transportFor(setup, { fetch: flaky }), userMessage('m1', 'Write')))
      expect(failures).toBeGreaterThan(0)
      expect(textOf(await messageOf(chunks))).toBe(LONG_TEXT)
      expect(deltas(chunks)).toBe(40)
    }
    finally {
      setup.stop()
    }
  })

  it('refuses a prompt without the collaborator key (viewers read only), and sends nothing', async () => {
    const setup = await slowSession()
    try {
      await expect(send(transportFor(setup, { collaborator: false }), userMessage('m1', 'Hi'))).rejects.toBeInstanceOf(ForbiddenError)
      expect((await snapshot(server, setup.session.id)).state.prompts).toEqual([])
    }
    finally {
      setup.stop()
    }
  })
})
