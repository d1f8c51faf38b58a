// @vitest-environment happy-dom
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useSession } from '../../composables/useSession'
import type { CreatedSession, SessionSnapshot } from '../../shared/sessions/api'
import { WINDOW_SIZES } from '../../shared/sessions/window'
import type { HistoryList } from '../../shared/sessions/window'
import { fetchSnapshot } from '../../transport/session-api'
import type { TestServer } from '../support/server'
import { snapshot } from '../support/sessions'
import { createSession, publish, startClientServer, until, withSetup } from './support'

/**
 * A long session in the browser: the store starts from the newest window, holds only that, the
 * pages a reader loads and what arrives live, and paging back to the start yields every item
 * once, in stream order, equal to the server's whole state.
 */

let server: TestServer
let session: CreatedSession

const TURNS = 150
const TERMINAL_LINES = 400
const TOOL_CALLS = 120
const RUNNING_TOOL = 'tool-3'
const UPDATED_TOOL = 'tool-5'

function longSessionEvents(agentId: string): unknown[] {
  const events: unknown[] = [{ channel: 'workflow', data: { id: 'request-old', type: 'approval:requested', payload: { title: 'Deploy' } } }]
  for (let turn = 0; turn < TURNS; turn++) {
    for (let part = 0; part < 3; part++) events.push({ channel: 'chunks', data: { id: `chunk-${turn}-${part}`, agentId, turn, text: `turn ${turn} part ${part}. ` } })
    if (turn % 3 === 0) events.push({ channel: 'terminal', data: { id: `line-${turn}`, type: 'output', source: 'agent', data: `line ${turn}` } })
  }
  for (let n = 0; n < TERMINAL_LINES - Math.ceil(TURNS / 3); n++) events.push({ channel: 'terminal', data: { id: `tail-line-${n}`, type: 'output', source: 'agent', data: `tail ${n}` } })
  for (let n = 0; n < TOOL_CALLS; n++) {
    const status = `tool-${n}` === RUNNING_TOOL ? 'running' : 'complete'
    events.push({ channel: 'toolCalls', data: { id: `tool-${n}`, agentId, tool: 'read_file', input: { n }, status } })
  }
  return events
}

beforeAll(async () => {
  server = await startClientServer()
  session = await createSession(server)
  const events = longSessionEvents(session.agentId)
  for (let at = 0; at < events.length; at += 100) await publish(server, session, events.slice(at, at + 100))
})
afterAll(() => server?.stop())

const ids = (items: { id: string }[]) => items.map(item => item.id)
const duplicatesOf = (keys: string[]) => keys.filter((key, at) => keys.indexOf(key) !== at)

describe('a long session in the browser', () => {
  it('ships the newest window of each list, with what must stay complete however old', async () => {
    const windowed = await fetchSnapshot(session.id, { baseUrl: server.url })
    const whole = await snapshot(server, session.id)
    expect(windowed.offset).toBe(whole.offset)
    expect(windowed.state.chunks).toEqual([])
    expect(windowed.state.conversation).toEqual(whole.state.conversation.slice(-WINDOW_SIZES.conversation))
    expect(ids(windowed.state.messages)).toEqual(windowed.state.conversation.map(entry => entry.id))
    expect(windowed.state.terminal).toEqual(whole.state.terminal.slice(-WINDOW_SIZES.terminal))
    // The running tool call and the undecided approval are far older than their windows.
    expect(ids(windowed.state.toolCalls)).toEqual([RUNNING_TOOL, ...ids(whole.state.toolCalls.slice(-WINDOW_SIZES.toolCalls))])
    expect(ids(windowed.state.workflow)).toEqual(['request-old'])
    expect(windowed.history).toEqual({
      conversation: { before: `message:${windowed.state.conversation[0]!.id}`, remaining: TURNS - WINDOW_SIZES.conversation },
      toolCalls: { before: windowed.state.toolCalls[1]!.id, remaining: TOOL_CALLS - WINDOW_SIZES.toolCalls - 1 },
      terminal: { before: windowed.state.terminal[0]!.id, remaining: TERMINAL_LINES - WINDOW_SIZES.terminal },
      workflow: { before: null, remaining: 0 },
    })
  })

  it('holds the window plus what arrived live, then pages back to the first item with nothing twice', async () => {
    const { result, wrapper } = withSetup(() => useSession(session.id))
    await until(() => result.status.value === 'live', 'the session is live')
    const store = result.store.value
    const held = () => store.conversation.length + store.messages.length + store.chunks.length + store.toolCalls.length + store.terminal.length + store.workflow.length
    const windowHeld = held()
    // conversation entries and their messages, the tool calls (+1 running), terminal, the approval.
    expect(windowHeld).toBe(2 * WINDOW_SIZES.conversation + WINDOW_SIZES.toolCalls + 1 + WINDOW_SIZES.terminal + 1)

    // Live: a new turn of two chunks, a terminal line, and an update of an old tool call whose
    // insert lies on a page not loaded yet.
    const live = [
      { channel: 'chunks', data: { id: 'live-0', agentId: session.agentId, turn: TURNS, text: 'live ' } },
      { channel: 'chunks', data: { id: 'live-1', agentId: session.agentId, turn: TURNS, text: 'tokens' } },
      { channel: 'terminal', data: { id: 'live-line', type: 'output', source: 'agent', data: 'live line' } },
      { channel: 'toolCalls', data: { id: UPDATED_TOOL, agentId: session.agentId, tool: 'read_file', input: { n: 5 }, status: 'error', output: 'updated live' } },
    ]
    const liveOffset = await publish(server, session, live)
    await until(() => store.offset === liveOffset, 'the live events arrive')
    // Two chunks, one new message and its conversation entry, a line, the updated tool call.
    expect(held()).toBe(windowHeld + 2 + 2 + 1 + 1)
    expect(store.messages.at(-1)!.text).toBe('live tokens')

    const pagesLoaded: Record<HistoryList, number> = { conversation: 0, toolCalls: 0, terminal: 0, workflow: 0 }
    for (const list of ['conversation', 'toolCalls', 'terminal'] as const) {
      while (store.history?.[list].before) {
        const before = held()
        expect(await result.loadEarlier(list)).toBe(true)
        pagesLoaded[list]++
        // A page adds at most its size (and its messages), never more.
        expect(held() - before).toBeLessThanOrEqual(2 * WINDOW_SIZES[list])
      }
      expect(await result.loadEarlier(list)).toBe(false)
    }
    expect(pagesLoaded).toEqual({
      conversation: Math.ceil((TURNS - WINDOW_SIZES.conversation) / WINDOW_SIZES.conversation),
      toolCalls: Math.ceil((TOOL_CALLS - WINDOW_SIZES.toolCalls) / WINDOW_SIZES.toolCalls),
      terminal: Math.ceil((TERMINAL_LINES - WINDOW_SIZES.terminal) / WINDOW_SIZES.terminal),
      workflow: 0,
    })

    // Every item once, in stream order, as the server's whole state has it.
    const whole: SessionSnapshot = await snapshot(server, session.id)
    expect(store.conversation).toEqual(whole.state.conversation)
    expect(store.messages).toEqual(whole.state.messages)
    expect(store.terminal).toEqual(whole.state.terminal)
    expect(store.toolCalls).toEqual(whole.state.toolCalls)
    expect(store.toolCalls.find(call => call.id === UPDATED_TOOL)!.output).toBe('updated live')
    for (const keys of [store.conversation.map(entry => entry.id), ids(store.messages), ids(store.terminal), ids(store.toolCalls)])
      expect(duplicatesOf(keys)).toEqual([])
    wrapper.unmount()
  })

  it('answers a clear 4xx for a cursor or list it does not know', async () => {
    const unknown = await fetch(`${server.url}/api/sessions/${session.id}/history?list=terminal&before=no-such-line`)
    expect(unknown.status).toBe(409)
    expect((await unknown.json()).message).toContain('no-such-line')
    const badList = await fetch(`${server.url}/api/sessions/${session.id}/history?list=secrets&before=x`)
    expect(badList.status).toBe(400)
    expect((await badList.json()).message).toContain('list')
    const tooMany = await fetch(`${server.url}/api/sessions/${session.id}/history?list=terminal&before=line-0&limit=100000`)
    expect(tooMany.status).toBe(400)
  })
})
