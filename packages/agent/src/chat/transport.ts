import type { ChatTransport, UIMessage, UIMessageChunk } from 'ai'
import type { SessionSnapshot, WriteResult } from '../../../../shared/sessions/api'
import { COLLABORATOR_KEY_HEADER, PRESENCE_KEY_HEADER } from '../../../../shared/sessions/api'
import type { Prompt } from '../../../../shared/sessions/channels'
import { sessionApiPath } from '../../../../shared/sessions/paths'
import { AnswerChunks } from '../conversation/answer-chunks'
import { ValidationError } from '../errors'
import { SessionFollower } from '../follower'
import { callApi, normalizeServer } from '../http'
import type { Transport } from '../http'

export interface SessionChatTransportOptions {
  sessionId: string
  /** Origin of the Durable Sessions server. Default: the page's origin. */
  server?: string
  /** The collaborate link's key (`?key=`): posting a prompt needs it. */
  collaboratorKey?: string | (() => string | undefined)
  /** This user's presence key (from their join): the server then names them on the prompt. */
  presenceKey?: () => string | undefined
  /** The agent to ask. Default: the session's. */
  agentId?: string
  /** Default: globalThis.fetch. */
  fetch?: typeof globalThis.fetch
  /** Where each chat's last prompt and the offset its answer starts after are kept. Default: sessionStorage, when there is one. */
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>
}

/** What is kept per chat: the last prompt sent and the stream offset right after it. */
interface SentPrompt {
  promptId: string
  from: string
}

const FOLLOW_RETRY = { initialDelay: 500, maxDelay: 10_000, multiplier: 2 }

/**
 * A ChatTransport for the AI SDK's `Chat` (`@ai-sdk/vue`, `@ai-sdk/react`, …) that talks to a
 * durable session instead of a chat endpoint: `sendMessages` posts the user's last message to
 * the session as a prompt and streams the agent's answer from the session stream;
 * `reconnectToStream` finds the session's unanswered prompt and replays its answer from the
 * start, then live (`resumeStreamIsReplay`: the Chat rebuilds the message, so nothing is shown
 * twice). A dropped connection resumes from the last offset read, inside the stream.
 */
export class SessionChatTransport implements ChatTransport<UIMessage> {
  readonly resumeStreamIsReplay = true
  private readonly transport: Transport
  private readonly storage?: SessionChatTransportOptions['storage']

  constructor(private readonly options: SessionChatTransportOptions) {
    const server = options.server ?? globalThis.location?.origin
    if (!server) throw new ValidationError('SessionChatTransport needs `server` outside a browser page', [{ path: 'server', message: 'required' }])
    const fetchImpl = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init))
    this.transport = { server: normalizeServer(server), fetch: fetchImpl as typeof globalThis.fetch }
    this.storage = options.storage ?? defaultStorage()
  }

  async sendMessages({ chatId, messages, trigger, abortSignal }: Parameters<ChatTransport<UIMessage>['sendMessages']>[0]): Promise<ReadableStream<UIMessageChunk>> {
    if (trigger !== 'submit-message')
      throw new ValidationError('A durable session keeps every answer: ask again with a new message instead of regenerating one', [{ path: 'trigger', message: 'only submit-message' }])
    const message = messages.findLast(candidate => candidate.role === 'user')
    const text = message?.parts.map(part => part.type === 'text' ? part.text : '').join('') ?? ''
    if (!message || !text.trim()) throw new ValidationError('There is no user message with text to send', [{ path: 'messages', message: 'no user text' }])
    const written = await callApi<WriteResult>(this.transport, {
      method: 'POST',
      path: sessionApiPath(this.options.sessionId, 'events'),
      body: { channel: 'prompts', data: { id: message.id, text, ...(this.options.agentId ? { agentId: this.options.agentId } : {}) } },
      headers: this.credentials(),
      // Derived from the message: a retried post of this prompt lands once.
      idempotencyKey: `prompt.${message.id}`,
      sessionId: this.options.sessionId,
      signal: abortSignal,
      action: 'Sending the prompt',
    })
    // The answer comes after the prompt: reading from the offset after it misses nothing.
    this.remember(chatId, { promptId: message.id, from: written.offset })
    return this.answer(message.id, written.offset, abortSignal)
  }

  async reconnectToStream({ chatId, abortSignal }: Parameters<ChatTransport<UIMessage>['reconnectToStream']>[0]): Promise<ReadableStream<UIMessageChunk> | null> {
    const snapshot = await callApi<SessionSnapshot>(this.transport, {
      method: 'GET',
      path: sessionApiPath(this.options.sessionId, 'snapshot'),
      sessionId: this.options.sessionId,
      signal: abortSignal,
      action: 'Reading the session',
    })
    const prompt = unanswered(snapshot)
    const sent = this.recall(chatId)
    if (!prompt) {
      if (sent) this.storage?.removeItem(storageKey(chatId))
      return null
    }
    // From the kept offset when it is this prompt's; otherwise (another tab, another user)
    // from the start of the stream: only this answer's events are used either way.
    return this.answer(prompt.id, sent?.promptId === prompt.id ? sent.from : '-1', abortSignal)
  }

  private answer(promptId: string, from: string, signal: AbortSignal | undefined): ReadableStream<UIMessageChunk> {
    const chunks = new AnswerChunks(promptId)
    let follower: SessionFollower | undefined
    let ended = false
    return new ReadableStream<UIMessageChunk>({
      start: (controller) => {
        const end = (error?: Error) => {
          if (ended) return
          ended = true
          follower?.stop()
          if (error) controller.error(error)
          else controller.close()
        }
        if (signal?.aborted) return end()
        signal?.addEventListener('abort', () => end(), { once: true })
        follower = new SessionFollower({
          transport: this.transport,
          sessionId: this.options.sessionId,
          from,
          live: 'sse',
          retry: FOLLOW_RETRY,
          onMessage: (message) => {
            if (ended) return
            for (const chunk of chunks.apply(message)) controller.enqueue(chunk)
            if (chunks.done) end()
          },
          onClosed: () => {
            if (!ended) controller.enqueue({ type: 'error', errorText: 'The session ended before the agent answered' })
            end()
          },
          onFailure: end,
        })
      },
      cancel: () => {
        ended = true
        follower?.stop()
      },
    })
  }

  private credentials(): Record<string, string> {
    const key = typeof this.options.collaboratorKey === 'function' ? this.options.collaboratorKey() : this.options.collaboratorKey
    const presenceKey = this.options.presenceKey?.()
    return {
      ...(key ? { [COLLABORATOR_KEY_HEADER]: key } : {}),
      ...(presenceKey ? { [PRESENCE_KEY_HEADER]: presenceKey } : {}),
    }
  }

  private remember(chatId: string, sent: SentPrompt): void {
    try {
      this.storage?.setItem(storageKey(chatId), JSON.stringify(sent))
    }
    catch {
      // Full or blocked storage: a reload then replays from the stream's start, which is slower, not wrong.
    }
  }

  private recall(chatId: string): SentPrompt | undefined {
    try {
      const sent = JSON.parse(this.storage?.getItem(storageKey(chatId)) ?? 'null') as Partial<SentPrompt> | null
      return typeof sent?.promptId === 'string' && typeof sent.from === 'string' ? { promptId: sent.promptId, from: sent.from } : undefined
    }
    catch {
      return undefined
    }
  }
}

/** The first prompt, in stream order, that has no finished answer yet. */
function unanswered(snapshot: SessionSnapshot): Prompt | undefined {
  const finished = new Set(snapshot.state.answers.filter(answer => answer.status !== 'running').map(answer => answer.id))
  return snapshot.state.prompts.find(prompt => !finished.has(prompt.id))
}

const storageKey = (chatId: string) => `durable-sessions:chat:${chatId}`

function defaultStorage(): SessionChatTransportOptions['storage'] {
  try {
    return globalThis.sessionStorage
  }
  catch {
    return undefined
  }
}
