import { MaterializedState } from '@durable-streams/state'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { SessionEvent } from '../../shared/sessions/channels'
import { applyChange, createSessionState, hasEntity, messageId } from '../../shared/sessions/reducer'
import type { SessionState } from '../../shared/sessions/reducer'
import { selectApprovalDecisions, selectInputHistory, selectParticipants, selectPendingApprovals } from '../../shared/sessions/selectors'
import { fromChange, ownerOf, toChange } from '../../shared/sessions/wire'
import type { ChangeOperation } from '../../shared/sessions/wire'

const at = (second: number) => new Date(Date.UTC(2026, 10, 26, 10, 0, second)).toISOString()
const S = 'session-1'

const chunk = (id: string, text: string, turn = 1, agentId = 'coder', second = 0): SessionEvent =>
  ({ channel: 'chunks', data: { id, agentId, sessionId: S, text, turn, timestamp: at(second) } })
const tool = (id: string, status: 'pending' | 'running' | 'complete' | 'error'): SessionEvent =>
  ({ channel: 'toolCalls', data: { id, agentId: 'coder', sessionId: S, tool: 'read_file', input: { path: 'a.ts' }, status, timestamp: at(1) } })
const terminal = (id: string, data: string, source: 'user' | 'agent' = 'user', type: 'input' | 'output' = 'input'): SessionEvent =>
  ({ channel: 'terminal', data: { id, sessionId: S, type, data, source, timestamp: at(2) } })
const prompt = (id: string, text: string, actor = 'Ada'): SessionEvent =>
  ({ channel: 'prompts', data: { id, sessionId: S, text, actor, actorId: `user-${actor.toLowerCase()}`, timestamp: at(3) } })
const answer = (id: string, status: 'running' | 'complete', parts: Array<{ type: 'step' } | { type: 'text' | 'reasoning', turn: number } | { type: 'tool', toolCallId: string }>): SessionEvent =>
  ({ channel: 'answers', data: { id, sessionId: S, agentId: 'coder', status, parts, timestamp: at(4) } })
const presence = (userId: string, lastSeen: string, joinedAt = at(0)): SessionEvent =>
  ({ channel: 'presence', data: { userId, sessionId: S, lastSeen, joinedAt } })

function fold(changes: Array<[SessionEvent, ChangeOperation]>) {
  const state = createSessionState()
  for (const [event, operation] of changes) applyChange(state, JSON.parse(JSON.stringify(toChange(event, operation, at(9)))))
  return state
}

describe('the session reducer', () => {
  it('joins the chunks of each agent turn into one message, in stream order', () => {
    const state = fold([
      [chunk('c1', 'Hello '), 'insert'],
      [chunk('c2', 'there', 1, 'reviewer'), 'insert'],
      [chunk('c3', 'world'), 'insert'],
      [chunk('c4', 'Next turn', 2), 'insert'],
    ])
    expect(state.messages.map(message => [message.id, message.text])).toEqual([
      ['coder:1', 'Hello world'],
      ['reviewer:1', 'there'],
      ['coder:2', 'Next turn'],
    ])
  })

  it('upserts by key: an update replaces in place, a replayed insert does not duplicate', () => {
    const state = fold([
      [tool('t1', 'pending'), 'insert'],
      [tool('t2', 'pending'), 'insert'],
      [tool('t1', 'complete'), 'update'],
      [chunk('c1', 'draft'), 'insert'],
      [chunk('c1', 'final'), 'update'],
      [terminal('x', 'ls'), 'insert'],
      [terminal('x', 'ls'), 'insert'],
    ])
    expect(state.toolCalls.map(call => [call.id, call.status])).toEqual([['t1', 'complete'], ['t2', 'pending']])
    expect(state.messages[0]!.text).toBe('final')
    expect(state.terminal).toHaveLength(1)
  })

  it('removes entities on delete, with or without old_value, and keeps its index right afterwards', () => {
    const state = fold([
      [chunk('c1', 'a'), 'insert'],
      [chunk('c2', 'b'), 'insert'],
      [presence('u1', at(5)), 'insert'],
      [presence('u1', at(5)), 'delete'],
      [tool('t1', 'pending'), 'insert'],
    ])
    expect(state.presence).toEqual({})
    applyChange(state, { type: 'chunk', key: 'c1', headers: { operation: 'delete' } })
    expect(state.chunks.map(entry => entry.id)).toEqual(['c2'])
    expect(state.messages[0]!.text).toBe('b')
    applyChange(state, { type: 'tool', key: 't1', headers: { operation: 'delete' } })
    expect(state.toolCalls).toEqual([])
    // The cached index must follow the splice: c2 is still found, a new chunk appends once.
    expect(hasEntity(state, chunk('c2', 'b'))).toBe(true)
    applyChange(state, toChange(chunk('c3', 'c'), 'insert', at(9)))
    expect(state.chunks.map(entry => entry.id)).toEqual(['c2', 'c3'])
  })

  it('rebuilds a message when one of its chunks is replaced, deleted or moved to another turn', () => {
    const state = fold([
      [chunk('c1', 'one '), 'insert'],
      [chunk('c2', 'two '), 'insert'],
      [chunk('c3', 'three'), 'insert'],
      [chunk('d1', 'later', 2), 'insert'],
      [chunk('c2', 'TWO '), 'update'],
    ])
    expect(state.messages.map(message => message.text)).toEqual(['one TWO three', 'later'])
    applyChange(state, toChange(chunk('c1', ''), 'delete', at(9)))
    expect(state.messages.map(message => message.text)).toEqual(['TWO three', 'later'])
    // c3 moves to turn 2: it leaves turn 1 and joins turn 2 at its place in the stream (before d1).
    applyChange(state, toChange(chunk('c3', 'three', 2), 'update', at(9)))
    expect(state.messages.map(message => [message.id, message.text])).toEqual([['coder:1', 'TWO '], ['coder:2', 'threelater']])
    applyChange(state, toChange(chunk('c2', ''), 'delete', at(9)))
    expect(state.messages.map(message => [message.id, message.text])).toEqual([['coder:2', 'threelater']])
  })

  it('keeps every message equal to its chunks joined, through random inserts, updates, deletes and a hydration (fixed seed)', () => {
    /** What the messages must say: each agent turn's chunks, in stream order, joined. */
    const expected = (state: SessionState) => state.messages.map(message => [message.id, state.chunks.filter(one => messageId(one.agentId, one.turn ?? 0) === message.id).map(one => one.text).join('')])
    const step = fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), text: fc.string({ maxLength: 3 }), turn: fc.integer({ min: 1, max: 3 }), agent: fc.constantFrom('coder', 'reviewer'), operation: fc.constantFrom<ChangeOperation>('insert', 'update', 'update', 'delete'), hydrate: fc.boolean() })
    fc.assert(fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
      let state = createSessionState()
      for (const { id, text, turn, agent, operation, hydrate } of steps) {
        // A hydrated state is a new object graph (the SSR payload): its bookkeeping starts afresh.
        if (hydrate) state = JSON.parse(JSON.stringify(state)) as SessionState
        applyChange(state, JSON.parse(JSON.stringify(toChange(chunk(id, text, turn, agent), operation, at(9)))))
        expect(state.messages.map(message => [message.id, message.text])).toEqual(expected(state))
        expect(state.messages.every(message => state.chunks.some(one => messageId(one.agentId, one.turn ?? 0) === message.id))).toBe(true)
      }
    }), { seed: 20_261_126, numRuns: 300 })
  })

  it('ignores control messages, foreign types and invalid values', () => {
    const state = createSessionState()
    applyChange(state, { headers: { control: 'snapshot-start' } })
    applyChange(state, { type: 'user', key: '1', value: { name: 'x' }, headers: { operation: 'insert' } })
    applyChange(state, { type: 'chunk', key: 'c', value: { id: 'c', text: 1 }, headers: { operation: 'insert' } })
    applyChange(state, 'not an object')
    expect(state).toEqual(createSessionState())
  })

  it('materialises like the official MaterializedState', () => {
    const changes: Array<[SessionEvent, ChangeOperation]> = [
      [chunk('c1', 'a'), 'insert'],
      [tool('t1', 'pending'), 'insert'],
      [tool('t1', 'running'), 'update'],
      [presence('u1', at(3)), 'insert'],
      [terminal('x', 'ls'), 'insert'],
      [{ channel: 'agentState', data: { agentId: 'coder', sessionId: S, status: 'running', progress: 40, timestamp: at(4) } }, 'insert'],
      [presence('u1', at(3)), 'delete'],
    ]
    const official = new MaterializedState()
    for (const [event, operation] of changes) official.apply(toChange(event, operation, at(9)))
    const ours = fold(changes)
    expect([...official.getType('chunk').values()]).toEqual(ours.chunks)
    expect([...official.getType('tool').values()]).toEqual(ours.toolCalls)
    expect([...official.getType('terminal').values()]).toEqual(ours.terminal)
    expect(Object.fromEntries(official.getType('state'))).toEqual(ours.agentState)
    expect(Object.fromEntries(official.getType('presence'))).toEqual(ours.presence)
  })

  it('keeps prompts and answers like the official MaterializedState, and the conversation in stream order', () => {
    const changes: Array<[SessionEvent, ChangeOperation]> = [
      [prompt('p1', 'Why is it red?'), 'insert'],
      [prompt('p2', 'And the flake?', 'Bob'), 'insert'],
      [answer('p1', 'running', [{ type: 'step' }]), 'insert'],
      [answer('p1', 'running', [{ type: 'step' }, { type: 'reasoning', turn: 1 }]), 'update'],
      [chunk('c1', 'Looking at the log.', 1), 'insert'],
      [answer('p1', 'running', [{ type: 'step' }, { type: 'reasoning', turn: 1 }, { type: 'text', turn: 2 }, { type: 'tool', toolCallId: 't1' }]), 'update'],
      [chunk('c2', 'The test times out.', 2), 'insert'],
      [tool('t1', 'complete'), 'insert'],
      [answer('p1', 'complete', [{ type: 'step' }, { type: 'reasoning', turn: 1 }, { type: 'text', turn: 2 }, { type: 'tool', toolCallId: 't1' }]), 'update'],
      [answer('p2', 'running', [{ type: 'step' }, { type: 'text', turn: 3 }]), 'insert'],
      [chunk('c3', 'Same cause.', 3), 'insert'],
    ]
    const official = new MaterializedState()
    for (const [event, operation] of changes) official.apply(toChange(event, operation, at(9), event.channel === 'prompts' ? 'collaborator' : 'agent'))
    const ours = fold(changes)
    expect([...official.getType('prompt').values()]).toEqual(ours.prompts)
    expect([...official.getType('answer').values()]).toEqual(ours.answers)
    expect(ours.answers.map(entry => [entry.id, entry.status, entry.parts.length])).toEqual([['p1', 'complete', 4], ['p2', 'running', 2]])
    // Both prompts came before any answer: the panel shows them, then the agent's turns.
    expect(ours.conversation).toEqual([
      { kind: 'prompt', id: 'p1' },
      { kind: 'prompt', id: 'p2' },
      { kind: 'message', id: 'coder:1' },
      { kind: 'message', id: 'coder:2' },
      { kind: 'message', id: 'coder:3' },
    ])
    applyChange(ours, { type: 'prompt', key: 'p2', headers: { operation: 'delete' } })
    expect(ours.conversation.map(entry => entry.id)).toEqual(['p1', 'coder:1', 'coder:2', 'coder:3'])
  })
})

describe('the wire format', () => {
  it('carries each event as a State Protocol change keyed by the channel primary key', () => {
    const change = toChange(presence('u1', at(1)), 'update', at(9))
    expect(change).toMatchObject({ type: 'presence', key: 'u1', headers: { operation: 'update', timestamp: at(9) } })
    expect(fromChange(change)).toEqual({ event: presence('u1', at(1)), operation: 'update' })
  })
  it('marks a collaborator\'s records with headers.owner, which the official MaterializedState ignores like ours', () => {
    const input = terminal('in-1', 'ls')
    const decision: SessionEvent = { channel: 'workflow', data: { id: 'd1', sessionId: S, type: 'approval:approved', payload: { requestId: 'r1' }, timestamp: at(3) } }
    const marked = [toChange(input, 'insert', at(9), 'collaborator'), toChange(decision, 'insert', at(9), 'collaborator')]
    expect(marked.map(change => change.headers)).toEqual([
      { timestamp: at(9), owner: 'collaborator', operation: 'insert' },
      { timestamp: at(9), owner: 'collaborator', operation: 'insert' },
    ])
    expect(ownerOf(marked[0]!)).toBe('collaborator')
    const agents = toChange(terminal('out-1', 'ok', 'agent', 'output'), 'insert', at(9))
    expect(agents.headers).toEqual({ timestamp: at(9), operation: 'insert' })
    expect(ownerOf(agents)).toBe('agent')

    const official = new MaterializedState()
    official.applyBatch([...marked, agents])
    const ours = createSessionState()
    for (const change of [...marked, agents]) applyChange(ours, JSON.parse(JSON.stringify(change)))
    expect([...official.getType('terminal').values()]).toEqual(ours.terminal)
    expect([...official.getType('workflow').values()]).toEqual(ours.workflow)
    expect(ours.terminal.map(entry => entry.id)).toEqual(['in-1', 'out-1'])
  })
})

describe('selectors', () => {
  it('counts participants seen within 30 s, earliest joiner first', () => {
    const state = fold([
      [presence('late', at(40), at(20)), 'insert'],
      [presence('early', at(45), at(10)), 'insert'],
      [presence('gone', at(5), at(1)), 'insert'],
    ])
    const now = Date.parse(at(50))
    expect(selectParticipants(state.presence, now).map(entry => entry.userId)).toEqual(['early', 'late'])
  })

  it('pairs approval decisions with their requests', () => {
    const workflow = (id: string, type: 'approval:requested' | 'approval:approved', payload: Record<string, string>) =>
      ({ id, sessionId: S, type, payload, timestamp: at(1) })
    const events = [
      workflow('r1', 'approval:requested', { title: 'merge' }),
      workflow('r2', 'approval:requested', { title: 'deploy' }),
      workflow('d1', 'approval:approved', { requestId: 'r1' }),
    ]
    expect(selectPendingApprovals(events).map(event => event.id)).toEqual(['r2'])
    expect(selectApprovalDecisions(events).get('r1')?.id).toBe('d1')
  })

  it('keeps the last 50 user inputs, newest first', () => {
    const state = fold([
      ...Array.from({ length: 60 }, (_, i): [SessionEvent, ChangeOperation] => [terminal(`in${i}`, `cmd ${i}`), 'insert']),
      [terminal('out', 'output', 'agent', 'output'), 'insert'],
    ])
    const history = selectInputHistory(state.terminal)
    expect(history).toHaveLength(50)
    expect(history[0]).toBe('cmd 59')
    expect(history.at(-1)).toBe('cmd 10')
  })
})
