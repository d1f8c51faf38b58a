import { randomUUID } from 'node:crypto'
import type { TerminalEntry, WorkflowEvent } from '#shared/sessions/channels'
import { fromChange } from '#shared/sessions/wire'
import { parseJsonChunks } from '../streams/json'
import type { StreamChange, StreamStore } from '../streams/store'
import { SessionError } from './errors'
import { SessionPublisher } from './publisher'
import { sessionStreamPath } from './service'
import type { SessionService } from './service'

export interface DemoOptions {
  /** Time multiplier: 1 streams at ~30 tokens/s; tests run faster. */
  speed: number
  /** Decide the approval request automatically after this long (seeded demo); wait forever if unset. */
  autoApproveAfterMs?: number
  /** Called once the run is over, however it ended (frees the caller's demo slot). */
  onEnd?: () => void
}

const TOKEN_INTERVAL_MS = 33

class Stopped extends Error {}

/**
 * A scripted, realistic coding agent that needs no API key: it streams text over several
 * turns, runs tools that succeed and fail, prints terminal output, opens a worktree, asks for
 * approval and waits for the decision, and answers terminal commands while it is attached.
 */
export class DemoAgents {
  private readonly running = new Map<string, AbortController>()

  constructor(private readonly service: SessionService, private readonly store: StreamStore) {}

  /** Starts the demo on a session; false if one is already running there. */
  start(sessionId: string, options: DemoOptions): boolean {
    if (this.running.has(sessionId)) return false
    const controller = new AbortController()
    this.running.set(sessionId, controller)
    const session = this.service.requireSession(sessionId)
    const run = new DemoRun(this.service, this.store, sessionId, session.agentId, options, controller)
    void run.start().finally(() => {
      if (this.running.get(sessionId) === controller) this.running.delete(sessionId)
      options.onEnd?.()
    })
    return true
  }

  stopAll(): void {
    for (const controller of this.running.values()) controller.abort()
    this.running.clear()
  }
}

class DemoRun {
  private readonly publisher: SessionPublisher
  private readonly decisions = new Map<string, (decision: WorkflowEvent) => void>()
  private readonly startedAt = new Date().toISOString()
  private progress = 0
  private readonly signal: AbortSignal

  constructor(
    private readonly service: SessionService,
    private readonly store: StreamStore,
    private readonly sessionId: string,
    private readonly agentId: string,
    private readonly options: DemoOptions,
    private readonly controller: AbortController,
  ) {
    this.publisher = new SessionPublisher(service, sessionId)
    this.signal = controller.signal
  }

  async start(): Promise<void> {
    const stream = this.store.head(sessionStreamPath(this.sessionId))
    const unsubscribe = this.store.subscribe(stream.id, change => this.onChange(change))
    const stop = () => unsubscribe()
    this.signal.addEventListener('abort', stop, { once: true })
    try {
      await this.script()
      // Stays attached to answer terminal commands until the session ends or the server stops.
      await new Promise<void>(resolve => this.signal.addEventListener('abort', () => resolve(), { once: true }))
    }
    catch (error) {
      // Ending or deleting the session under a running script is a normal way for it to stop.
      const expected = error instanceof Stopped || (error instanceof SessionError && (error.code === 'ended' || error.code === 'not_found'))
      if (!expected) console.error('[demo] agent stopped', error)
    }
    finally {
      stop()
    }
  }

  private async script(): Promise<void> {
    const agent = this.agentId
    this.state({ status: 'starting', turn: 0, progress: 0, message: 'Reading the task' })
    await this.pause(600)

    await this.turn(1, 'I\'ll start by reading the checkout module and its failing test to see what the flake looks like.\n\n', 10)
    await this.tool('read_file', { path: 'src/checkout/cart.ts' }, 700, {
      lines: 142,
      excerpt: 'export function totalCents(items: CartItem[]) {\n  return items.reduce((sum, item) => sum + item.price * item.qty, 0)\n}',
    })
    await this.command('npm test -- cart', [
      '\u001B[1m RUN \u001B[22m v3.2.0 /workspace/shop',
      ' \u001B[32m✓\u001B[39m cart totals (4 tests) \u001B[2m12ms\u001B[22m',
      ' \u001B[31m×\u001B[39m checkout › applies discount once \u001B[2m31ms\u001B[22m',
      '   \u001B[31mAssertionError: expected 1799 to be 1800\u001B[39m',
      ' Tests  \u001B[31m1 failed\u001B[39m | \u001B[32m4 passed\u001B[39m (5)',
    ], true)
    this.state({ status: 'running', progress: 30, currentTool: undefined, message: 'Found a rounding error' })

    await this.turn(2, 'The discount is applied to a float price and then rounded per line, so **1799** appears where **1800** is expected. I\'ll work in integer cents in a fresh worktree.\n\n', 40)
    const worktree = `fix/discount-rounding-${this.sessionId.slice(0, 6)}`
    this.publisher.publishWorkflowEvent({ type: 'worktree:created', payload: { branch: worktree, path: `../worktrees/${worktree}` }, actor: agent })
    await this.tool('search_code', { query: 'applyDiscount(' }, 500, { matches: ['src/checkout/discount.ts:18', 'src/checkout/cart.ts:57'] })
    await this.tool('run_typecheck', { project: 'shop' }, 900, undefined, 'tsc: src/checkout/discount.ts(21,10): Type \'number\' is not assignable to type \'Cents\'')
    await this.tool('edit_file', { path: 'src/checkout/discount.ts', change: 'use Math.round on cents, not on dollars' }, 600, { applied: true, linesChanged: 6 })
    await this.command('npm test -- cart', [
      ' \u001B[32m✓\u001B[39m cart totals (4 tests) \u001B[2m11ms\u001B[22m',
      ' \u001B[32m✓\u001B[39m checkout › applies discount once \u001B[2m9ms\u001B[22m',
      ' Tests  \u001B[32m5 passed\u001B[39m (5)',
    ], false)

    await this.turn(3, 'All five tests pass in the worktree. The change touches pricing, so I\'d like a human to approve merging it.\n\n', 75)
    const requestId = randomUUID()
    const decided = this.waitForDecision(requestId)
    this.publisher.publishWorkflowEvent({
      id: requestId,
      type: 'approval:requested',
      payload: { title: `Merge ${worktree}`, description: 'Compute discounts in integer cents (6 lines in src/checkout/discount.ts).', branch: worktree },
      actor: agent,
    })
    this.state({ status: 'paused', progress: 80, message: 'Waiting for approval to merge' })
    const decision = await decided

    if (decision.type === 'approval:approved') {
      this.state({ status: 'running', progress: 85, message: `Approved by ${decision.actor ?? 'a collaborator'}` })
      await this.tool('merge_worktree', { branch: worktree }, 700, { merged: true, commit: 'a1c9e2f' })
      this.publisher.publishWorkflowEvent({ type: 'worktree:merged', payload: { branch: worktree, commit: 'a1c9e2f' }, actor: agent })
      await this.turn(4, 'Merged. The flaky discount test is fixed and the change is on main.\n', 95)
    }
    else {
      this.state({ status: 'running', progress: 85, message: `Rejected by ${decision.actor ?? 'a collaborator'}` })
      this.publisher.publishWorkflowEvent({ type: 'worktree:removed', payload: { branch: worktree }, actor: agent })
      await this.turn(4, 'Understood — I discarded the worktree and left main untouched.\n', 95)
    }
    this.publisher.publishAgentStep(agent, { type: 'agent:complete', message: 'Done. Type `help` in the terminal to talk to me.' })
  }

  private async turn(turn: number, text: string, progress: number): Promise<void> {
    this.publisher.publishAgentStep(this.agentId, { type: 'agent:turn', turn })
    this.state({ status: 'running', progress: Math.max(this.progress, progress - 5), message: `Turn ${turn}` })
    for (const token of text.match(/\S+\s*|\s+/g) ?? []) {
      this.publisher.publishAgentStep(this.agentId, { type: 'stream:token', text: token, turn })
      await this.pause(TOKEN_INTERVAL_MS)
    }
    this.state({ progress })
  }

  private async tool(tool: string, input: Record<string, string>, runMs: number, output?: Record<string, unknown>, error?: string): Promise<void> {
    const { toolCallId } = this.publisher.publishAgentStep(this.agentId, { type: 'tool:start', tool, input })
    this.state({ currentTool: tool })
    await this.pause(150)
    this.publisher.publishAgentStep(this.agentId, { type: 'tool:invoke', toolCallId: toolCallId! })
    await this.pause(runMs)
    this.publisher.publishAgentStep(this.agentId, { type: 'tool:result', toolCallId: toolCallId!, output: output as never, error })
    this.state({ currentTool: undefined })
  }

  private async command(command: string, lines: string[], failed: boolean): Promise<void> {
    this.publisher.publishTerminalEvent({ type: 'input', source: 'agent', data: `$ ${command}` })
    for (const line of lines) {
      await this.pause(120)
      this.publisher.publishTerminalEvent({ type: failed && line.includes('×') ? 'error' : 'output', source: 'agent', data: line })
    }
  }

  private state(update: Parameters<SessionPublisher['publishAgentState']>[1]): void {
    if (update.progress !== undefined) this.progress = update.progress
    this.publisher.publishAgentState(this.agentId, update)
  }

  private waitForDecision(requestId: string): Promise<WorkflowEvent> {
    return new Promise((resolve, reject) => {
      const timer = this.options.autoApproveAfterMs === undefined
        ? undefined
        : setTimeout(() => this.publisher.publishWorkflowEvent({
            type: 'approval:approved',
            payload: { requestId, note: 'Approved automatically: nobody decided in time' },
            actor: 'auto-approver',
          }), this.options.autoApproveAfterMs / this.options.speed)
      this.decisions.set(requestId, (decision) => {
        clearTimeout(timer)
        resolve(decision)
      })
      this.signal.addEventListener('abort', () => {
        clearTimeout(timer)
        reject(new Stopped())
      }, { once: true })
    })
  }

  /** Watches the session: approval decisions resolve waits; user commands get an answer. */
  private onChange(change: StreamChange): void {
    if (change.removed || change.closed) {
      this.controller.abort()
      return
    }
    for (const message of parseJsonChunks(change.chunks)) {
      const decoded = fromChange(message)
      if (!decoded) continue
      const { event } = decoded
      if (event.channel === 'workflow' && (event.data.type === 'approval:approved' || event.data.type === 'approval:rejected')) {
        const requestId = event.data.payload.requestId
        if (typeof requestId === 'string') this.decisions.get(requestId)?.(event.data)
      }
      if (event.channel === 'terminal' && event.data.type === 'input' && event.data.source === 'user' && event.data.timestamp >= this.startedAt) {
        // Answer after the current commit has reached every reader, never from inside it.
        const input = event.data
        setTimeout(() => this.answer(input), 150 / this.options.speed)
      }
    }
  }

  private answer(input: TerminalEntry): void {
    if (this.signal.aborted) return
    const [command = '', ...args] = input.data.trim().split(/\s+/)
    const state = this.service.liveState(this.sessionId).agentState[this.agentId]
    const replies: Record<string, () => string> = {
      help: () => 'Commands: help, status, echo <text>, date, whoami',
      status: () => `agent ${this.agentId}: ${state?.status ?? 'idle'}${state?.progress === undefined ? '' : ` (${Math.round(state.progress)}%)`}${state?.message ? ` — ${state.message}` : ''}`,
      echo: () => args.join(' '),
      date: () => new Date().toISOString(),
      whoami: () => 'a collaborator of this session',
    }
    const reply = replies[command]
    try {
      this.publisher.publishTerminalEvent(reply
        ? { type: 'output', source: 'agent', data: reply() }
        : { type: 'error', source: 'system', data: `${command}: command not found (try help)` })
    }
    catch {
      // The session ended or was deleted meanwhile: nothing left to answer.
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.signal.aborted) return reject(new Stopped())
      const onAbort = () => {
        clearTimeout(timer)
        reject(new Stopped())
      }
      const timer = setTimeout(() => {
        this.signal.removeEventListener('abort', onAbort)
        resolve()
      }, ms / this.options.speed)
      this.signal.addEventListener('abort', onAbort, { once: true })
    })
  }
}
