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
 * Takes a named lock shared by every instance, or answers undefined while another holds it;
 * `onLost` if it goes while held (SessionRepository.tryHold).
 */
export type HoldLock = (name: string, onLost: () => void) => Promise<(() => Promise<void>) | undefined>

/**
 * The built-in AI SDK agent: in each session created with it, it answers the prompts with the
 * configured model (answerPrompts on @durable-sessions/agent, through the same HTTP API as any
 * agent, in-process). It publishes with the server token, so it carries on after a restart.
 * With several instances, the one holding the session's lock answers; the others leave it be,
 * and take over once that instance is gone (the lock ends with its database connection).
 */
export class AiAgents {
  private readonly running = new Map<string, PromptAnswerer>()
  /** Stopped for good (the server is shutting down): no session starts its agent again. */
  private stopped = false

  constructor(
    private readonly connection: DemoConnection,
    private readonly token: () => string,
    private readonly model: () => Promise<LanguageModel>,
    private readonly hold: HoldLock,
  ) {}

  /** Answers the session's prompts from now on, unless this or another instance already does (or all were stopped). */
  async ensure(target: AiTarget): Promise<void> {
    if (this.stopped || this.running.has(target.sessionId)) return
    let answerer: PromptAnswerer | undefined
    let lost = false
    const release = await this.hold(`ai-agent:${target.sessionId}`, () => {
      console.warn(`[ai] session ${target.sessionId}: the session's lock went with its database connection; this instance stops answering (the instance that takes the lock next answers)`)
      lost = true
      answerer?.stop()
    })
    if (!release) return
    // Stopped (or the lock lost) while the lock was on its way: the next holder takes the session.
    if (this.stopped || lost) {
      await release()
      return
    }
    const session = attachSession({ ...this.connection, sessionId: target.sessionId, agentToken: this.token(), agentId: target.agentId })
    const tools = builtinTools(session)
    answerer = answerPrompts(session, {
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
    const running = answerer
    this.running.set(target.sessionId, running)
    void running.done.finally(() => {
      session.detach()
      if (this.running.get(target.sessionId) === running) this.running.delete(target.sessionId)
      return release().catch(error => console.warn(`[ai] session ${target.sessionId}: the agent's lock was not released: ${error.message}`))
    })
  }

  stopAll(): void {
    this.stopped = true
    for (const answerer of this.running.values()) answerer.stop()
    this.running.clear()
  }
}
