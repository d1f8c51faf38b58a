import { readUIMessageStream, stepCountIs, streamText, tool } from 'ai'
import type { ModelMessage, UIMessage, UIMessageChunk } from 'ai'
import { z } from 'zod'
import type { CreatedSession } from '../../shared/sessions/api'
import type { TestServer } from './server'
import { api, as, joinPresence, withPresenceKey } from './sessions'
import { scriptedModel as untypedScriptedModel } from './ai-scenarios.mjs'

/** Helpers for the AI SDK adapters' tests: a scripted coding answer, collaborators, chunk streams. */

type ScriptItem = { text: string } | { reasoning: string } | { tool: string, input: Record<string, unknown> }
export const scriptedModel = untypedScriptedModel as (steps: ScriptItem[][], options?: { delayMs?: number, usage?: { input: number, output: number } }) => Parameters<typeof streamText>[0]['model']

/** Text, reasoning, two tool calls (the second fails), then a tool that needs approval, then the end. */
export const CODING_STEPS: ScriptItem[][] = [
  [
    { reasoning: 'The failing test is about rounding; read it first.' },
    { text: 'I will read the test and run it. ' },
    { tool: 'read_file', input: { path: 'cart.test.ts' } },
    { tool: 'run_tests', input: { filter: 'cart' } },
  ],
  [
    { text: 'One test fails on rounding. I will deploy the fix once someone approves. ' },
    { tool: 'deploy', input: { branch: 'fix/rounding' } },
  ],
  [{ text: 'Deployed: the discount is computed in cents now.' }],
]

export const CODING_TEXT = {
  reasoning: 'The failing test is about rounding; read it first.',
  texts: ['I will read the test and run it. ', 'One test fails on rounding. I will deploy the fix once someone approves. ', 'Deployed: the discount is computed in cents now.'],
}

/** The coding agent's tools: read_file works, run_tests throws, deploy needs approval. */
export const codingTools = {
  read_file: tool({ inputSchema: z.object({ path: z.string() }), execute: async ({ path }) => ({ path, lines: 42 }) }),
  run_tests: tool({
    inputSchema: z.object({ filter: z.string() }),
    execute: async (): Promise<{ passed: number }> => {
      throw new Error('1 test failed: expected 1800, got 1799')
    },
  }),
  deploy: tool({ inputSchema: z.object({ branch: z.string() }), execute: async ({ branch }) => ({ deployed: branch }) }),
}

/** streamText on the scripted coding model: what an agent's `respond` returns. */
export function codingAnswer(messages: ModelMessage[], delayMs = 0, signal?: AbortSignal) {
  return streamText({
    model: scriptedModel(CODING_STEPS, { delayMs }),
    messages,
    tools: codingTools,
    toolApproval: { deploy: 'user-approval' },
    stopWhen: stepCountIs(5),
    abortSignal: signal,
  })
}

export interface Collaborator {
  name: string
  userId: string
  headers: Record<string, string>
}

/** A collaborator who joined presence: their writes carry the collaborator key and their presence key. */
export async function joinAsCollaborator(server: TestServer, session: CreatedSession, name: string): Promise<Collaborator> {
  const userId = `user-${name.toLowerCase()}`
  const { presenceKey } = await joinPresence(server, session, userId, { displayName: name })
  return { name, userId, headers: { ...as('collaborator', session, server), ...withPresenceKey(presenceKey) } }
}

/** Posts a prompt as a collaborator; returns the offset after it. */
export async function prompt(server: TestServer, session: CreatedSession, who: Collaborator, text: string, id?: string): Promise<string> {
  const response = await api(server, 'POST', `/api/sessions/${session.id}/events`, { json: { channel: 'prompts', data: { text, ...(id ? { id } : {}) } }, headers: who.headers })
  if (response.status !== 200) throw new Error(`prompt answered ${response.status}: ${response.text}`)
  return response.body.offset
}

/** Decides an approval request as a collaborator. */
export async function decide(server: TestServer, session: CreatedSession, who: Collaborator, requestId: string, approved: boolean, reason?: string): Promise<void> {
  const response = await api(server, 'POST', `/api/sessions/${session.id}/events`, {
    json: { channel: 'workflow', data: { type: approved ? 'approval:approved' : 'approval:rejected', payload: { requestId, ...(reason ? { reason } : {}) } } },
    headers: who.headers,
  })
  if (response.status !== 200) throw new Error(`decision answered ${response.status}: ${response.text}`)
}

/** Every chunk of a UI message stream, until it ends. */
export async function readChunks(stream: ReadableStream<UIMessageChunk>, until?: (chunks: UIMessageChunk[]) => boolean): Promise<UIMessageChunk[]> {
  const chunks: UIMessageChunk[] = []
  const reader = stream.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    if (until?.(chunks)) {
      await reader.cancel()
      break
    }
  }
  return chunks
}

/** The message a chunk stream builds, as the AI SDK's Chat builds it. */
export async function messageOf(chunks: UIMessageChunk[]): Promise<UIMessage | undefined> {
  let last: UIMessage | undefined
  const stream = new ReadableStream<UIMessageChunk>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk)
      controller.close()
    },
  })
  for await (const message of readUIMessageStream({ stream, terminateOnError: true })) last = message
  return last
}

/** The text parts of a UI message, joined. */
export function textOf(message: UIMessage | undefined): string {
  return message?.parts.map(part => part.type === 'text' ? part.text : '').join('') ?? ''
}

/** Storage for a transport, as sessionStorage is for one tab. */
export function memoryStorage(): Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> {
  const items = new Map<string, string>()
  return {
    getItem: key => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: key => void items.delete(key),
  }
}
