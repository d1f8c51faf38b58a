// @vitest-environment happy-dom
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { usePresence } from '../../composables/usePresence'
import { useSession } from '../../composables/useSession'
import { useTerminal } from '../../composables/useTerminal'
import type { TerminalEntry } from '../../shared/sessions/channels'
import { SessionApiError } from '../../transport/errors'
import { forgetSessionCredentials, presenceKeyFor, rememberCollaboratorKey } from '../../transport/session-credentials'
import { writeManagerFor } from '../../sync/write-manager'
import type { TestServer } from '../support/server'
import { snapshot, streamMessages } from '../support/sessions'
import { createSession, flush, publish, recordingFetch, startClientServer, until, withSetup } from './support'

let server: TestServer

beforeAll(async () => {
  server = await startClientServer()
})
afterAll(() => server?.stop())
afterEach(() => {
  vi.useRealTimers()
  localStorage.clear()
})

const isEventsPost = (input: RequestInfo | URL, init?: RequestInit) =>
  (init?.method ?? 'GET') === 'POST' && String(input instanceof Request ? input.url : input).endsWith('/events')

describe('terminal input', () => {
  it('shows input at once, refuses it for a viewer (403) and rolls it back with a visible error', async () => {
    const session = await createSession(server)
    const { result, wrapper, pinia } = withSetup(() => useTerminal(session.id))
    await until(() => result.status.value === 'live', 'live')

    const calls: string[] = []
    const sending = result.sendCommand('rm -rf /', {
      onOptimistic: () => calls.push('optimistic'),
      onConfirm: () => calls.push('confirm'),
      onRollback: (_, error) => calls.push(`rollback ${(error as SessionApiError).status}`),
    })
    // Synchronously visible, marked pending.
    expect(result.lines.value.map(line => [line.data, line.pending])).toEqual([['rm -rf /', true]])

    const outcome = await sending
    expect(outcome.ok).toBe(false)
    expect(calls).toEqual(['optimistic', 'rollback 403'])
    expect(result.lines.value).toEqual([])
    expect(result.error.value).toBeInstanceOf(SessionApiError)
    expect((result.error.value as SessionApiError).status).toBe(403)
    // A refusal is not retried: asking again cannot change it.
    expect(writeManagerFor(pinia).writes.at(-1)).toMatchObject({ status: 'failed', attempts: 1, kind: 'terminal' })
    expect((await snapshot(server, session.id)).state.terminal).toEqual([])
    wrapper.unmount()
  })

  it('confirms with the offset of the write, and the echo replaces the optimistic entry (no duplicate)', async () => {
    const session = await createSession(server)
    // The collaborate link's ?key= is picked up from the page URL.
    const page = window.location.href
    ;(window as unknown as { happyDOM: { setURL: (url: string) => void } }).happyDOM.setURL(`${server.url}/sessions/${session.id}?key=${session.collaboratorKey}`)
    const { result, wrapper } = withSetup(() => useSession(session.id))
    ;(window as unknown as { happyDOM: { setURL: (url: string) => void } }).happyDOM.setURL(page)
    await until(() => result.isConnected.value, 'live')

    let confirmed: { event: TerminalEntry, offset: string } | undefined
    const outcome = await result.sendInput('npm test', { onConfirm: (event, offset) => (confirmed = { event, offset }) })
    expect(outcome.ok).toBe(true)
    expect(confirmed?.offset).toBe(outcome.ok ? outcome.offset : undefined)
    await until(() => result.offset.value >= confirmed!.offset, 'the echo has arrived')

    const entries = result.terminal.value.filter(entry => entry.id === confirmed!.event.id)
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ data: 'npm test', type: 'input', source: 'user' })
    expect(result.terminal.value).toHaveLength(1)
    expect((await snapshot(server, session.id)).state.terminal.map(entry => entry.id)).toEqual([confirmed!.event.id])
    wrapper.unmount()
  })

  it('retries a write whose answer was lost with the same Idempotency-Key: it lands once', async () => {
    const session = await createSession(server)
    rememberCollaboratorKey(session.id, session.collaboratorKey)
    let lost = 0
    const lossy = recordingFetch(async (input, init) => {
      const response = await globalThis.fetch(input, init)
      // The request reached the server; its answer is dropped on the way back, twice.
      if (isEventsPost(input, init) && lost < 2) {
        lost++
        await response.text()
        throw new TypeError('network connection lost')
      }
      return response
    })
    const { result, wrapper } = withSetup(() => useSession(session.id, { fetch: lossy.fetch }))
    await until(() => result.isConnected.value, 'live')

    const outcome = await result.sendInput('deploy')
    expect(outcome.ok).toBe(true)
    const posts = lossy.requests.filter(request => request.method === 'POST')
    expect(posts).toHaveLength(3)
    expect(new Set(posts.map(request => request.headers['idempotency-key'])).size).toBe(1)
    expect(new Set(posts.map(request => request.body)).size).toBe(1)

    const terminal = (await streamMessages(server, `sessions/${session.id}`)).filter(message => message.type === 'terminal')
    expect(terminal).toHaveLength(1)
    await until(() => result.offset.value === (outcome.ok ? outcome.offset : ''), 'the echo has arrived')
    expect(result.terminal.value).toHaveLength(1)
    forgetSessionCredentials(session.id)
    wrapper.unmount()
  })

  it('retries a failing write 3 times, 1 s apart, then rolls it back', async () => {
    const session = await createSession(server)
    rememberCollaboratorKey(session.id, session.collaboratorKey)
    const offline = recordingFetch(async (input, init) => {
      if (isEventsPost(input, init)) throw new TypeError('Failed to fetch')
      return globalThis.fetch(input, init)
    })
    const { result, wrapper, pinia } = withSetup(() => useTerminal(session.id, { fetch: offline.fetch }))
    await until(() => result.status.value === 'live', 'live')
    const posts = () => offline.requests.filter(request => request.method === 'POST').length

    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const sending = result.sendCommand('ls')
    for (let attempt = 1; attempt <= 3; attempt++) {
      await until(() => posts() === attempt, `attempt ${attempt}`)
      await flush()
      expect(writeManagerFor(pinia).writes.at(-1)?.status).toBe('retrying')
      expect(result.lines.value.map(line => line.pending)).toEqual([true])
      vi.advanceTimersByTime(999)
      await flush()
      expect(posts()).toBe(attempt)
      vi.advanceTimersByTime(1)
    }
    const outcome = await sending
    expect(posts()).toBe(4)
    expect(outcome.ok).toBe(false)
    expect(result.lines.value).toEqual([])
    expect(result.error.value?.message).toMatch(/Failed to fetch/)
    vi.useRealTimers()
    forgetSessionCredentials(session.id)
    wrapper.unmount()
  })
})

describe('prompts', () => {
  it('shows a prompt in the conversation at once; a viewer\'s is refused (403) and leaves the conversation again', async () => {
    const session = await createSession(server)
    const { result, wrapper } = withSetup(() => useSession(session.id))
    await until(() => result.isConnected.value, 'live')

    const calls: string[] = []
    const sending = result.ask('Why is the build red?', { onRollback: (_, error) => calls.push(`rollback ${error.status}`) })
    expect(result.prompts.value.map(prompt => [prompt.text, prompt.actorId])).toEqual([['Why is the build red?', result.user.value.userId]])
    expect(result.conversation.value).toEqual([{ kind: 'prompt', id: result.prompts.value[0]!.id }])

    expect((await sending).ok).toBe(false)
    expect(calls).toEqual(['rollback 403'])
    expect(result.prompts.value).toEqual([])
    expect(result.conversation.value).toEqual([])
    expect((await snapshot(server, session.id)).state.prompts).toEqual([])
    wrapper.unmount()
  })

  it('a collaborator\'s prompt lands under its own id, and its echo replaces the optimistic one (no duplicate)', async () => {
    const session = await createSession(server)
    rememberCollaboratorKey(session.id, session.collaboratorKey)
    const { result, wrapper } = withSetup(() => useSession(session.id))
    await until(() => result.isConnected.value, 'live')

    const outcome = await result.ask('Run the tests')
    expect(outcome.ok).toBe(true)
    await until(() => outcome.ok && result.offset.value >= outcome.offset, 'the echo has arrived')
    expect(result.prompts.value.map(prompt => [prompt.id, prompt.text])).toEqual([[outcome.event.id, 'Run the tests']])
    expect(result.conversation.value).toEqual([{ kind: 'prompt', id: outcome.event.id }])
    expect((await snapshot(server, session.id)).state.prompts.map(prompt => prompt.id)).toEqual([outcome.event.id])
    wrapper.unmount()
  })
})

describe('approvals', () => {
  it('approves optimistically: the request leaves pendingApprovals at once and the decision lands, signed by the presence identity', async () => {
    const session = await createSession(server)
    const requestOffset = await publish(server, session, { channel: 'workflow', data: { id: 'req-1', type: 'approval:requested', payload: { title: 'Merge' } } })
    const ada = { userId: 'u-1', displayName: 'Ada' }
    const { result, wrapper } = withSetup(() => {
      usePresence(session.id, ada)
      return useSession(session.id, { collaboratorKey: session.collaboratorKey, user: ada })
    })
    await until(() => result.offset.value === requestOffset, 'the request has arrived')
    // The server names a collaborator's decision by the presence key of their join.
    await until(() => presenceKeyFor(session.id, 'u-1') !== undefined, 'joined presence')
    expect(result.pendingApprovals.value.map(event => event.id)).toEqual(['req-1'])

    const approving = result.approve('req-1', 'looks good')
    expect(result.pendingApprovals.value).toEqual([])
    const outcome = await approving
    expect(outcome.ok).toBe(true)
    const decisions = (await snapshot(server, session.id)).state.workflow.filter(event => event.type === 'approval:approved')
    expect(decisions).toHaveLength(1)
    expect(decisions[0]).toMatchObject({ actor: 'Ada', actorId: 'u-1', payload: { requestId: 'req-1', reason: 'looks good' } })
    wrapper.unmount()
  })
})

describe('write manager', () => {
  it('lists writes and drops settled ones after 60 s', async () => {
    const session = await createSession(server)
    const { result, wrapper, pinia } = withSetup(() => useSession(session.id, { collaboratorKey: session.collaboratorKey }))
    await until(() => result.isConnected.value, 'live')
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const sending = result.sendInput('whoami')
    const manager = writeManagerFor(pinia)
    expect(manager.pending.value).toHaveLength(1)
    expect(result.writes.value).toHaveLength(1)
    await sending
    expect(manager.pending.value).toHaveLength(0)
    expect(result.writes.value.map(write => write.status)).toEqual(['confirmed'])
    vi.advanceTimersByTime(59_999)
    expect(result.writes.value).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(result.writes.value).toHaveLength(0)
    vi.useRealTimers()
    wrapper.unmount()
  })
})
