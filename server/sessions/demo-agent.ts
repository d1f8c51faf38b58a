import { attachSession, SessionClosedError, SessionNotFoundError } from '../../packages/agent/src/index'
import type { AgentSession, ApprovalDecision, StateUpdate, TerminalInput } from '../../packages/agent/src/index'

export interface DemoOptions {
  /** Time multiplier: 1 streams at ~30 tokens/s; tests run faster. */
  speed: number
  /** Decide the approval request automatically after this long (seeded demo); wait forever if unset. */
  autoApproveAfterMs?: number
  /** Called once the run is over, however it ended (frees the caller's demo slot). */
  onEnd?: () => void
}

export interface DemoTarget {
  sessionId: string
  /** The agent token (or the server token): the demo is an agent like any other. */
  token: string
  agentId: string
}

/** What the demo agent talks to: this server, through the same HTTP API as any agent. */
export interface DemoConnection {
  server: string
  fetch: typeof globalThis.fetch
}

const TOKEN_INTERVAL_MS = 33

class Stopped extends Error {}

/**
 * A scripted, realistic coding agent that needs no API key: it streams text over several
 * turns, runs tools that succeed and fail, prints terminal output, opens a worktree, asks for
 * approval and waits for the decision, and answers terminal commands while it is attached.
 * It is written on @durable-sessions/agent, like an agent outside the server.
 */
export class DemoAgents {
  private readonly running = new Map<string, AbortController>()

  constructor(private readonly connection: DemoConnection) {}

  /** Starts the demo on a session; false if one is already running there. */
  start(target: DemoTarget, options: DemoOptions): boolean {
    if (this.running.has(target.sessionId)) return false
    const controller = new AbortController()
    this.running.set(target.sessionId, controller)
    const session = attachSession({ ...this.connection, sessionId: target.sessionId, agentToken: target.token, agentId: target.agentId })
    void new DemoRun(session, target.agentId, options, controller.signal).start().finally(() => {
      session.detach()
      if (this.running.get(target.sessionId) === controller) this.running.delete(target.sessionId)
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
  private current: StateUpdate = {}

  constructor(
    private readonly session: AgentSession,
    private readonly agentId: string,
    private readonly options: DemoOptions,
    private readonly signal: AbortSignal,
  ) {}

  async start(): Promise<void> {
    const unsubscribe = this.session.onInput(input => setTimeout(() => this.answer(input), 150 / this.options.speed))
    try {
      await this.script()
      await this.session.flush()
      // Stays attached to answer terminal commands until the session ends or the server stops.
      await new Promise<void>(resolve => this.signal.addEventListener('abort', () => resolve(), { once: true }))
    }
    catch (error) {
      // Ending or deleting the session under a running script is a normal way for it to stop.
      const expected = error instanceof Stopped || error instanceof SessionClosedError || error instanceof SessionNotFoundError
      if (!expected) console.error('[demo] agent stopped', error)
    }
    finally {
      unsubscribe()
    }
  }

  private async script(): Promise<void> {
    await this.state({ status: 'starting', turn: 0, progress: 0, message: 'Reading the task' })
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
    await this.state({ status: 'running', progress: 30, currentTool: undefined, message: 'Found a rounding error' })

    await this.turn(2, 'The discount is applied to a float price and then rounded per line, so **1799** appears where **1800** is expected. I\'ll work in integer cents in a fresh worktree.\n\n', 40)
    const worktree = `fix/discount-rounding-${this.session.id.slice(0, 6)}`
    await this.session.workflow('worktree:created', { branch: worktree, path: `../worktrees/${worktree}` })
    await this.tool('search_code', { query: 'applyDiscount(' }, 500, { matches: ['src/checkout/discount.ts:18', 'src/checkout/cart.ts:57'] })
    await this.tool('run_typecheck', { project: 'shop' }, 900, undefined, 'tsc: src/checkout/discount.ts(21,10): Type \'number\' is not assignable to type \'Cents\'')
    await this.tool('edit_file', { path: 'src/checkout/discount.ts', change: 'use Math.round on cents, not on dollars' }, 600, { applied: true, linesChanged: 6 })
    await this.command('npm test -- cart', [
      ' \u001B[32m✓\u001B[39m cart totals (4 tests) \u001B[2m11ms\u001B[22m',
      ' \u001B[32m✓\u001B[39m checkout › applies discount once \u001B[2m9ms\u001B[22m',
      ' Tests  \u001B[32m5 passed\u001B[39m (5)',
    ], false)

    await this.turn(3, 'All five tests pass in the worktree. The change touches pricing, so I\'d like a human to approve merging it.\n\n', 75)
    const decided = this.requestApproval(worktree)
    await this.state({ status: 'paused', progress: 80, message: 'Waiting for approval to merge' })
    const decision = await decided

    if (decision.approved) {
      await this.state({ status: 'running', progress: 85, message: `Approved by ${decision.actor ?? 'a collaborator'}` })
      await this.tool('merge_worktree', { branch: worktree }, 700, { merged: true, commit: 'a1c9e2f' })
      await this.session.workflow('worktree:merged', { branch: worktree, commit: 'a1c9e2f' })
      await this.turn(4, 'Merged. The flaky discount test is fixed and the change is on main.\n', 95)
    }
    else {
      await this.state({ status: 'running', progress: 85, message: `Rejected by ${decision.actor ?? 'a collaborator'}` })
      await this.session.workflow('worktree:removed', { branch: worktree })
      await this.turn(4, 'Understood — I discarded the worktree and left main untouched.\n', 95)
    }
    await this.state({ status: 'completed', progress: 100, currentTool: undefined, message: 'Done. Type `help` in the terminal to talk to me.' })
  }

  private async turn(turn: number, text: string, progress: number): Promise<void> {
    await this.state({ status: 'running', turn, progress: Math.max(this.current.progress ?? 0, progress - 5), message: `Turn ${turn}` })
    for (const token of text.match(/\S+\s*|\s+/g) ?? []) {
      await this.session.text(token, { turn })
      await this.pause(TOKEN_INTERVAL_MS)
    }
    await this.state({ progress })
  }

  private async tool(tool: string, input: Record<string, string>, runMs: number, output?: Record<string, unknown>, error?: string): Promise<void> {
    await this.state({ currentTool: tool })
    const call = this.session.tool(tool, input)
    await this.pause(150 + runMs)
    await (error ? call.error(error) : call.result(output as never))
    await this.state({ currentTool: undefined })
  }

  private async command(command: string, lines: string[], failed: boolean): Promise<void> {
    await this.session.terminal(`$ ${command}`, { type: 'input' })
    for (const line of lines) {
      await this.pause(120)
      await this.session.terminal(line, { type: failed && line.includes('×') ? 'error' : 'output' })
    }
  }

  /** Resolves with the collaborators' decision, or approves by itself after `autoApproveAfterMs`. */
  private async requestApproval(worktree: string): Promise<ApprovalDecision> {
    const timeoutMs = this.options.autoApproveAfterMs === undefined ? undefined : this.options.autoApproveAfterMs / this.options.speed
    try {
      return await this.session.requestApproval({
        title: `Merge ${worktree}`,
        description: 'Compute discounts in integer cents (6 lines in src/checkout/discount.ts).',
        payload: { branch: worktree },
        timeoutMs,
        onTimeout: { approved: true, reason: 'Approved automatically: nobody decided in time', actor: 'auto-approver' },
        signal: this.signal,
      })
    }
    catch (error) {
      if (this.signal.aborted) throw new Stopped()
      throw error
    }
  }

  private state(update: StateUpdate): Promise<void> {
    this.current = { ...this.current, ...update }
    return this.session.state(update)
  }

  private answer(input: TerminalInput): void {
    if (this.signal.aborted) return
    const [command = '', ...args] = input.data.trim().split(/\s+/)
    const state = this.current
    const replies: Record<string, () => string> = {
      help: () => 'Commands: help, status, echo <text>, date, whoami',
      status: () => `agent ${this.agentId}: ${state.status ?? 'idle'}${state.progress === undefined ? '' : ` (${Math.round(state.progress)}%)`}${state.message ? ` — ${state.message}` : ''}`,
      echo: () => args.join(' '),
      date: () => new Date().toISOString(),
      whoami: () => 'a collaborator of this session',
    }
    const reply = replies[command]
    // Rejected only when the session ended meanwhile: nothing left to answer.
    void (reply
      ? this.session.terminal(reply(), { type: 'output' })
      : this.session.terminal(`${command}: command not found (try help)`, { type: 'error', source: 'system' })).catch(() => {})
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
