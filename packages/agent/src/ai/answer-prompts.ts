import { convertToModelMessages } from 'ai'
import type { ModelMessage, UIMessage } from 'ai'
import type { Prompt } from '../../../../shared/sessions/channels'
import { applyChange, createSessionState } from '../../../../shared/sessions/reducer'
import { sessionUIMessages, toolApprovals } from '../conversation/ui-messages'
import type { AgentSession } from '../session'
import { pipeToSession } from './pipe'
import type { AnswerSource } from './pipe'

export interface PromptContext {
  prompt: Prompt
  /** The conversation up to this prompt (and the answer so far, when it continues) as UI messages. */
  uiMessages: UIMessage[]
  /** The same as model messages, for `streamText({ messages })`. */
  messages: ModelMessage[]
  /** Aborted when the answerer is stopped. */
  signal: AbortSignal
}

export interface AnswerPromptsOptions {
  /** Answers one prompt: typically `streamText({ model, messages, tools, abortSignal: signal })`. */
  respond: (context: PromptContext) => AnswerSource | Promise<AnswerSource>
  /** The steps the model may take, for progress (see PipeOptions.maxSteps). */
  maxSteps?: number
  /** A prompt that could not be answered (the answer is marked as failed, and the next one is taken). */
  onError?: (error: Error, prompt: Prompt) => void
}

export interface PromptAnswerer {
  /** Stops following and aborts the answer in progress; what was published stays. */
  stop: () => void
  /** Resolves once it has stopped: stop(), or the session ended or was deleted. */
  done: Promise<void>
}

/**
 * Makes an agent answer the session's prompts: it follows the session from its start, and
 * answers each prompt addressed to it (or to no agent, if it is the session's agent) once, in stream order,
 * with `respond` piped into the session (pipeToSession). When the model asks for approvals it
 * waits for the collaborators' decisions in the session, then calls `respond` again with them
 * in the messages, and the answer goes on. After a restart it picks up where it stood: finished
 * answers are left alone, an unfinished one is continued.
 */
export function answerPrompts(session: AgentSession, options: AnswerPromptsOptions | AnswerPromptsOptions['respond']): PromptAnswerer {
  const settings = typeof options === 'function' ? { respond: options } : options
  const state = createSessionState()
  const controller = new AbortController()
  let offset = ''
  const waiters = new Set<() => void>()
  const changed = () => new Promise<void>(resolve => waiters.add(resolve))

  const stopReading = session.read({
    onMessage: message => applyChange(state, message),
    onOffset: (next) => {
      offset = next
      for (const resolve of waiters) resolve()
      waiters.clear()
    },
    onClosed: () => controller.abort(),
    onError: () => controller.abort(),
  })

  /** Waits until everything this handle published is folded into `state`. */
  const caughtUp = async () => {
    await session.flush()
    while (!controller.signal.aborted && session.offset !== undefined && offset < session.offset) await Promise.race([changed(), aborted(controller.signal)])
  }

  /** The first prompt for this agent still to answer: addressed to it, or to nobody when it is the session's agent. */
  const next = (agentId: string, sessionAgentId: string): Prompt | undefined => {
    const answers = new Map(state.answers.map(answer => [answer.id, answer]))
    const approvals = toolApprovals(state.workflow)
    return state.prompts.find((prompt) => {
      if ((prompt.agentId ?? sessionAgentId) !== agentId) return false
      const answer = answers.get(prompt.id)
      if (!answer) return true
      if (answer.status !== 'running' || answer.agentId !== agentId) return false
      // Running: ready to go on unless an approval it asked for is still undecided.
      return !answer.parts.some(part => part.type === 'tool' && approvals.get(part.toolCallId) && !approvals.get(part.toolCallId)!.decision)
    })
  }

  const answer = async (prompt: Prompt) => {
    const uiMessages = sessionUIMessages(state, { through: prompt.id })
    try {
      const messages = await convertToModelMessages(uiMessages, { ignoreIncompleteToolCalls: true })
      const source = await settings.respond({ prompt, uiMessages, messages, signal: controller.signal })
      const result = await pipeToSession(session, source, { promptId: prompt.id, state, maxSteps: settings.maxSteps, signal: controller.signal })
      if (result.status === 'error') settings.onError?.(new Error(result.error), prompt)
    }
    catch (error) {
      if (controller.signal.aborted) return
      const failure = error instanceof Error ? error : new Error(String(error))
      settings.onError?.(failure, prompt)
      // The model could not even start: the answer says why, and the next prompt is taken.
      void session.publish('answers', { id: prompt.id, status: 'error', parts: state.answers.find(known => known.id === prompt.id)?.parts ?? [], error: failure.message.slice(0, 10_000) })
      void session.state({ status: 'error', error: failure.message.slice(0, 10_000), message: 'The answer failed' })
    }
    await caughtUp()
  }

  const done = (async () => {
    const sessionAgentId = (await session.snapshot()).session.agentId
    const agentId = session.agentId ?? sessionAgentId
    while (!controller.signal.aborted) {
      const prompt = offset ? next(agentId, sessionAgentId) : undefined
      if (prompt) {
        await answer(prompt)
        continue
      }
      await Promise.race([changed(), aborted(controller.signal)])
    }
  })().catch(() => controller.abort()).finally(stopReading)

  return { stop: () => controller.abort(), done }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise(resolve => signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true }))
}
