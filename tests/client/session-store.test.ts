// @vitest-environment happy-dom
import type { Pinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import type { SessionSnapshot } from '../../shared/sessions/api'
import type { SessionEvent } from '../../shared/sessions/channels'
import { createSessionState } from '../../shared/sessions/reducer'
import { toChange } from '../../shared/sessions/wire'
import type { ChangeOperation } from '../../shared/sessions/wire'
import { useSessionStore } from '../../stores/session'
import type { SessionStore } from '../../stores/session'
import { freshPinia } from './support'

const SESSION = 'session-1'
const T0 = Date.parse('2026-11-26T10:00:00.000Z')
const at = (ms: number) => new Date(T0 + ms).toISOString()
const offset = (position: number) => `0000000000000000_${String(position).padStart(16, '0')}`

function change(event: SessionEvent, operation: ChangeOperation = 'insert') {
  return toChange(event, operation, at(0))
}
const chunk = (id: string, text: string, turn: number, agentId = 'agent') =>
  change({ channel: 'chunks', data: { id, agentId, sessionId: SESSION, text, turn, timestamp: at(0) } })
const terminal = (id: string, data: string, source: 'user' | 'agent' = 'user', type: 'input' | 'output' = 'input') =>
  change({ channel: 'terminal', data: { id, sessionId: SESSION, type, data, source, timestamp: at(0) } })
const presence = (userId: string, lastSeenMs: number, joinedMs = 0, operation: ChangeOperation = 'insert') =>
  change({ channel: 'presence', data: { userId, sessionId: SESSION, lastSeen: at(lastSeenMs), joinedAt: at(joinedMs) } }, operation)

function snapshotAt(position: number, fill: (state: SessionSnapshot['state']) => void = () => {}): SessionSnapshot {
  const state = createSessionState()
  fill(state)
  return {
    session: { id: SESSION, title: 't', status: 'active', agentId: 'agent', projectId: null, taskId: null, createdAt: at(0), lastActivityAt: at(0), participantsOnline: 0, agentStatus: null, public: false, builtinAgent: null, tailOffset: offset(position), url: `/sessions/${SESSION}` },
    offset: offset(position),
    state,
    presenceOffset: offset(0),
  }
}

let pinia: Pinia
let store: SessionStore

beforeEach(() => {
  pinia = freshPinia()
  store = useSessionStore(SESSION, pinia)
})

describe('session store', () => {
  it('hydrates from a snapshot, ignores an older one, and replaces when forced', () => {
    expect(store.hydrated).toBe(false)
    expect(store.hydrate(snapshotAt(5, state => state.terminal.push({ id: 'a', sessionId: SESSION, type: 'output', data: 'five', source: 'agent', timestamp: at(0) })))).toBe(true)
    expect(store.hydrated).toBe(true)
    expect(store.offset).toBe(offset(5))
    expect(store.terminal.map(entry => entry.data)).toEqual(['five'])

    expect(store.hydrate(snapshotAt(3))).toBe(false)
    expect(store.terminal.map(entry => entry.data)).toEqual(['five'])
    expect(store.hydrate(snapshotAt(3), { force: true })).toBe(true)
    expect(store.offset).toBe(offset(3))
    expect(store.terminal).toEqual([])
  })

  it('applies a batch only where it stands: duplicates are skipped, gaps refused', () => {
    store.hydrate(snapshotAt(0))
    expect(store.applyStream([terminal('t1', 'one'), terminal('t2', 'two')], offset(0), offset(2))).toBe('next')
    expect(store.applyStream([terminal('t1', 'one'), terminal('t2', 'two')], offset(0), offset(2))).toBe('duplicate')
    expect(store.applyStream([terminal('t4', 'four')], offset(3), offset(4))).toBe('gap')
    expect(store.applyStream([terminal('t2', 'two'), terminal('t3', 'three')], offset(1), offset(3))).toBe('gap')
    expect(store.offset).toBe(offset(2))
    expect(store.terminal.map(entry => entry.id)).toEqual(['t1', 't2'])
    expect(store.applyStream([terminal('t3', 'three')], offset(2), offset(3))).toBe('next')
    expect(store.terminal.map(entry => entry.id)).toEqual(['t1', 't2', 't3'])
  })

  it('derives messages from chunks grouped by agent and turn, text in stream order', () => {
    store.hydrate(snapshotAt(0))
    store.applyStream([chunk('c1', 'Hel', 1), chunk('c2', 'lo', 1), chunk('x1', 'Other', 1, 'helper'), chunk('c3', 'Next', 2)], offset(0), offset(4))
    expect(store.messages.map(message => [message.id, message.text])).toEqual([['agent:1', 'Hello'], ['helper:1', 'Other'], ['agent:2', 'Next']])
  })

  it('upserts tool calls by id, so a result updates its pending call', () => {
    store.hydrate(snapshotAt(0))
    const call = { id: 'tool-1', agentId: 'agent', sessionId: SESSION, tool: 'read_file', input: { path: 'a.ts' }, timestamp: at(0) }
    store.applyStream([
      change({ channel: 'toolCalls', data: { ...call, status: 'pending' } }),
      change({ channel: 'toolCalls', data: { ...call, status: 'complete', output: { lines: 3 }, duration: 12 } }, 'update'),
    ], offset(0), offset(2))
    expect(store.toolCalls).toEqual([{ ...call, status: 'complete', output: { lines: 3 }, duration: 12 }])
  })

  it('lists participants seen in the last 30 s, on a clock that moves', () => {
    store.hydrate(snapshotAt(0))
    store.applyPresenceStream([presence('ada', 0, 0), presence('bob', 20_000, 5_000)], offset(0), offset(2))
    store.now = T0 + 25_000
    expect(store.participants.map(entry => entry.userId)).toEqual(['ada', 'bob'])
    expect(store.onlineCount).toBe(2)
    store.now = T0 + 30_001
    expect(store.participants.map(entry => entry.userId)).toEqual(['bob'])
    store.applyPresenceStream([presence('bob', 20_000, 5_000, 'delete')], offset(2), offset(3))
    expect(store.participants).toEqual([])
    expect(store.presenceOffset).toBe(offset(3))
  })

  it('keeps approval requests pending until a decision names them', () => {
    store.hydrate(snapshotAt(0))
    const workflow = (id: string, type: 'approval:requested' | 'approval:approved', payload: Record<string, string> = {}) =>
      change({ channel: 'workflow', data: { id, sessionId: SESSION, type, payload, timestamp: at(0) } })
    store.applyStream([workflow('r1', 'approval:requested'), workflow('r2', 'approval:requested'), workflow('d1', 'approval:approved', { requestId: 'r1' })], offset(0), offset(3))
    expect(store.pendingApprovals.map(event => event.id)).toEqual(['r2'])
    expect(store.approvalDecisions.get('r1')?.id).toBe('d1')
  })

  it('recalls the last 50 user inputs, newest first', () => {
    store.hydrate(snapshotAt(0))
    const entries = Array.from({ length: 60 }, (_, n) => terminal(`in-${n}`, `cmd ${n}`))
    entries.push(terminal('agent-in', '$ npm test', 'agent'), terminal('out', 'ok', 'agent', 'output'))
    store.applyStream(entries, offset(0), offset(entries.length))
    expect(store.inputHistory).toHaveLength(50)
    expect(store.inputHistory[0]).toBe('cmd 59')
    expect(store.inputHistory.at(-1)).toBe('cmd 10')
  })

  it('shows an optimistic entry, rolls it back, and never rolls back what the stream has echoed', () => {
    store.hydrate(snapshotAt(0))
    const entry = { id: 'local-1', sessionId: SESSION, type: 'input', data: 'ls', source: 'user', timestamp: at(0) } as const
    const token = store.applyLocal({ channel: 'terminal', data: entry })
    expect(store.terminal.map(item => item.id)).toEqual(['local-1'])
    expect(store.rollbackLocal({ channel: 'terminal', data: entry }, token)).toBe(true)
    expect(store.terminal).toEqual([])

    const again = store.applyLocal({ channel: 'terminal', data: entry })
    // The echo: same id, from the stream, replaces the local entry in place.
    store.applyStream([terminal('local-1', 'ls')], offset(0), offset(1))
    expect(store.terminal).toHaveLength(1)
    expect(store.rollbackLocal({ channel: 'terminal', data: entry }, again)).toBe(false)
    expect(store.terminal).toHaveLength(1)
  })

  it('restores the previous presence on rollback, unless a newer local write replaced it', () => {
    store.hydrate(snapshotAt(0))
    store.applyPresenceStream([presence('ada', 0)], offset(0), offset(1))
    const previous = { ...store.presence.ada! }
    const moved = { ...previous, cursor: { x: 1, y: 1 } }
    const first = store.applyLocal({ channel: 'presence', data: moved })
    const second = store.applyLocal({ channel: 'presence', data: { ...previous, cursor: { x: 2, y: 2 } } })
    expect(store.rollbackLocal({ channel: 'presence', data: moved }, first, previous)).toBe(false)
    expect(store.presence.ada?.cursor).toEqual({ x: 2, y: 2 })
    expect(store.rollbackLocal({ channel: 'presence', data: moved }, second, previous)).toBe(true)
    expect(store.presence.ada?.cursor).toBeUndefined()
  })

  it('carries state and offsets, but not its clock, through the SSR payload', () => {
    store.hydrate(snapshotAt(7, state => state.workflow.push({ id: 'w', sessionId: SESSION, type: 'worktree:created', payload: {}, timestamp: at(0) })))
    store.now = 0
    // What the server leaves in the page: Pinia's state, serialised.
    const payload = JSON.parse(JSON.stringify(pinia.state.value)) as typeof pinia.state.value
    expect(payload[`session:${SESSION}`]).toMatchObject({ offset: offset(7), presenceOffset: offset(0), hydrated: true })

    const browser = freshPinia()
    browser.state.value = payload
    const hydrated = useSessionStore(SESSION, browser)
    expect(hydrated.hydrated).toBe(true)
    expect(hydrated.offset).toBe(offset(7))
    expect(hydrated.workflow.map(event => event.id)).toEqual(['w'])
    // The presence clock is the browser's own.
    expect(hydrated.now).toBeGreaterThan(0)
  })
})
