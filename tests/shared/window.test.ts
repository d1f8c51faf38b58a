import { describe, expect, it } from 'vitest'
import { mergeEarlier } from '../../lib/history-merge'
import type { Answer, Prompt, ToolCall, WorkflowEvent } from '../../shared/sessions/channels'
import { createSessionState } from '../../shared/sessions/reducer'
import type { SessionState } from '../../shared/sessions/reducer'
import { CONVERSATION_TEXT_BUDGET, historyPage, windowState } from '../../shared/sessions/window'

const T = '2026-11-29T10:00:00.000Z'
const message = (n: number, text = `message ${n}`) => ({ id: `agent:${n}`, agentId: 'agent', turn: n, text, startedAt: T, updatedAt: T })
const call = (n: number, status: ToolCall['status'] = 'complete'): ToolCall => ({ id: `call-${n}`, agentId: 'agent', sessionId: 's', tool: 't', input: n, status, timestamp: T })
const workflow = (id: string, type: WorkflowEvent['type'], requestId?: string): WorkflowEvent => ({ id, sessionId: 's', type, payload: requestId ? { requestId } : {}, timestamp: T })

function stateWith(fill: (state: SessionState) => void): SessionState {
  const state = createSessionState()
  fill(state)
  return state
}

describe('windowState', () => {
  it('keeps the newest entries within the text budget, the newest one whatever its size', () => {
    const state = stateWith((s) => {
      for (let n = 0; n < 10; n++) s.messages.push(message(n, 'x'.repeat(CONVERSATION_TEXT_BUDGET / 4)))
      s.messages.push(message(10, 'y'.repeat(CONVERSATION_TEXT_BUDGET * 2)))
      s.conversation = s.messages.map(m => ({ kind: 'message' as const, id: m.id }))
    })
    const { state: shown, history } = windowState(state)
    expect(shown.conversation.map(entry => entry.id)).toEqual(['agent:10'])
    expect(history.conversation).toEqual({ before: 'message:agent:10', remaining: 10 })
    // A page before it takes what fits: four quarter-budget messages.
    const page = historyPage(state, 'conversation', 'message:agent:10', 16)!
    expect(page.state.conversation!.map(entry => entry.id)).toEqual(['agent:6', 'agent:7', 'agent:8', 'agent:9'])
    expect(page.state.messages!.map(m => m.id)).toEqual(['agent:6', 'agent:7', 'agent:8', 'agent:9'])
    expect(page.cursor).toEqual({ before: 'message:agent:6', remaining: 6 })
    expect(historyPage(state, 'conversation', 'message:no-such', 16)).toBeUndefined()
  })

  it('keeps what must stay complete however old: running calls, calls a shown answer names, undecided requests', () => {
    const prompt: Prompt = { id: 'p1', sessionId: 's', text: 'Why?', timestamp: T }
    const answer: Answer = { id: 'p1', sessionId: 's', agentId: 'agent', status: 'complete', parts: [{ type: 'tool', toolCallId: 'call-1' }], timestamp: T }
    const state = stateWith((s) => {
      s.toolCalls = [call(0, 'running'), call(1), call(2), ...Array.from({ length: 40 }, (_, n) => call(n + 3))]
      s.workflow = [workflow('r1', 'approval:requested'), workflow('r2', 'approval:requested'), workflow('d2', 'approval:approved', 'r2'), ...Array.from({ length: 30 }, (_, n) => workflow(`w${n}`, 'worktree:created'))]
      s.prompts = [prompt]
      s.answers = [answer]
      s.conversation = [{ kind: 'prompt', id: 'p1' }]
      s.chunks = [{ id: 'c', agentId: 'agent', sessionId: 's', text: 'x', turn: 0, timestamp: T }]
    })
    const { state: shown, history } = windowState(state)
    expect(shown.chunks).toEqual([])
    expect(shown.prompts).toEqual([prompt])
    expect(shown.answers).toEqual([answer])
    expect(shown.toolCalls.slice(0, 2).map(c => c.id)).toEqual(['call-0', 'call-1'])
    expect(shown.toolCalls).toHaveLength(2 + 16)
    expect(history.toolCalls).toEqual({ before: 'call-27', remaining: 27 - 2 })
    expect(shown.workflow[0]!.id).toBe('r1')
    expect(shown.workflow.map(event => event.id)).not.toContain('r2')
  })
})

describe('mergeEarlier', () => {
  const keyOf = (item: { id: string, v?: number }) => item.id

  it('puts the page before the item it continues, each item once, where the page puts it', () => {
    // Held: an old running call shipped early (a), the window (d, e), a call updated live (b).
    const held = [{ id: 'a', v: 1 }, { id: 'd' }, { id: 'e' }, { id: 'b', v: 2 }]
    const page = [{ id: 'a', v: 0 }, { id: 'b', v: 0 }, { id: 'c' }]
    expect(mergeEarlier(held, page, { keyOf, before: 'd', pageIsNewer: false })).toEqual([{ id: 'a', v: 1 }, { id: 'b', v: 2 }, { id: 'c' }, { id: 'd' }, { id: 'e' }])
    expect(mergeEarlier(held, page, { keyOf, before: 'd', pageIsNewer: true })).toEqual([{ id: 'a', v: 0 }, { id: 'b', v: 0 }, { id: 'c' }, { id: 'd' }, { id: 'e' }])
  })

  it('keeps older held items before the page, and puts it first when the cursor is not held', () => {
    const held = [{ id: 'old' }, { id: 'd' }]
    expect(mergeEarlier(held, [{ id: 'c' }], { keyOf, before: 'd', pageIsNewer: true }).map(keyOf)).toEqual(['old', 'c', 'd'])
    expect(mergeEarlier(held, [{ id: 'c' }], { keyOf, before: null, pageIsNewer: true }).map(keyOf)).toEqual(['c', 'old', 'd'])
  })
})
