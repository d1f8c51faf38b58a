import { stepCountIs, streamText } from 'ai'
import type { LanguageModel } from 'ai'
import { attachSession } from '../../packages/agent/src/index'
import { answerPrompts } from '../../packages/agent/src/ai/index'
import type { PromptAnswerer } from '../../packages/agent/src/ai/index'
import type { DemoConnection } from './demo-agent'
import { APPROVED_TOOLS, builtinTools } from './ai-tools'

/** Model steps per answer: each step reads the results of the tools the previous one called. */
const MAX_STEPS = 6

const SYSTEM = 'You are the AI agent of a shared, live session: several people may read along and ask you things. '
  + 'Answer in GitHub Flavored Markdown, briefly. Use the tools when they help; writing to the terminal waits for a collaborator\'s approval.'

export interface AiTarget {
  sessionId: string
  agentId: string
}

/**
 * The built-in AI SDK agent: in each session created with it, it answers the prompts with the
 * configured model (answerPrompts on @durable-sessions/agent, through the same HTTP API as any
 * agent, in-process). It publishes with the server token, so it carries on after a restart.
 */
export class AiAgents {
  private readonly running = new Map<string, PromptAnswerer>()
  /** Stopped for good (the server is shutting down): no session starts its agent again. */
  private stopped = false

  constructor(
    private readonly connection: DemoConnection,
    private readonly token: () => string,
    private readonly model: () => Promise<LanguageModel>,
  ) {}

  /** Answers the session's prompts from now on, unless it already does (or all were stopped). */
  ensure(target: AiTarget): void {
    if (this.stopped || this.running.has(target.sessionId)) return
    const session = attachSession({ ...this.connection, sessionId: target.sessionId, agentToken: this.token(), agentId: target.agentId })
    const tools = builtinTools(session)
    const answerer = answerPrompts(session, {
      maxSteps: MAX_STEPS,
      respond: async ({ messages, signal }) => streamText({
        model: await this.model(),
        system: SYSTEM,
        messages,
        tools,
        toolApproval: APPROVED_TOOLS,
        stopWhen: stepCountIs(MAX_STEPS),
        abortSignal: signal,
      }),
      onError: error => console.warn(`[ai] session ${target.sessionId}: ${error.message}`),
    })
    this.running.set(target.sessionId, answerer)
    void answerer.done.finally(() => {
      session.detach()
      if (this.running.get(target.sessionId) === answerer) this.running.delete(target.sessionId)
    })
  }

  stopAll(): void {
    this.stopped = true
    for (const answerer of this.running.values()) answerer.stop()
    this.running.clear()
  }
}
