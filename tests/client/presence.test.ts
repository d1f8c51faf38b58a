// @vitest-environment happy-dom
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { usePresence } from '../../composables/usePresence'
import type { PresenceBody } from '../../shared/sessions/api'
import { useSessionStore } from '../../stores/session'
import { presenceKeyFor } from '../../transport/session-credentials'
import { acquireSession } from '../../sync/session-subscription'
import type { TestServer } from '../support/server'
import { api, details, eventually, joinPresence, postPresence, snapshot, withPresenceKey } from '../support/sessions'
import { createSession, flush, freshPinia, recordingFetch, startClientServer, until, withSetup } from './support'

let server: TestServer

beforeAll(async () => {
  server = await startClientServer()
})
afterAll(() => server?.stop())
afterEach(() => {
  vi.useRealTimers()
})

const ada = { userId: 'user-ada', displayName: 'Ada' }

/** happy-dom has no PageTransitionEvent: an Event with `persisted`, as a browser leaving for (or returning from) the bfcache sends. */
function pageTransition(type: 'pagehide' | 'pageshow'): Event {
  return Object.assign(new Event(type), { persisted: true })
}

/** The user ids present on the server, once `accept` takes them. */
function presenceOnServer(sessionId: string, accept: (ids: string[]) => boolean): Promise<string[]> {
  return eventually(async () => {
    const ids = (await details(server, sessionId)).presence.map(entry => entry.userId)
    return accept(ids) ? ids : undefined
  }, 'presence on the server to change')
}

/** Whether Ada's join was answered: this browser holds her presence key for the session. */
const joined = (sessionId: string) => presenceKeyFor(sessionId, ada.userId) !== undefined

/** The presence bodies a recording fetch has sent, with the (possibly fake) time of sending. */
function presencePosts(requests: { method: string, url: string, body?: string }[]): PresenceBody[] {
  return requests
    .filter(request => request.method === 'POST' && request.url.endsWith('/presence'))
    .map(request => JSON.parse(request.body!) as PresenceBody)
}

describe('usePresence', () => {
  it('joins when mounted, lists participants, and leaves when unmounted', async () => {
    const session = await createSession(server)
    const { result, wrapper } = withSetup(() => usePresence(session.id, ada))
    // Optimistic: the user is listed before the server has answered.
    expect(result.participants.value.map(entry => entry.userId)).toEqual(['user-ada'])
    expect(result.isJoined.value).toBe(true)
    await until(() => joined(session.id), 'join answered')
    await expect(details(server, session.id)).resolves.toMatchObject({ presence: [{ userId: 'user-ada', displayName: 'Ada' }] })

    await joinPresence(server, session, 'user-bob', { displayName: 'Bob' })
    await until(() => result.onlineCount.value === 2, 'Bob arrives through the presence stream')
    expect(result.others.value.map(entry => entry.displayName)).toEqual(['Bob'])

    wrapper.unmount()
    await expect(presenceOnServer(session.id, ids => !ids.includes('user-ada'))).resolves.toEqual(['user-bob'])
  })

  it('sends a heartbeat every 10 s', async () => {
    const session = await createSession(server)
    const recorder = recordingFetch()
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
    const { result, wrapper } = withSetup(() => usePresence(session.id, ada, { fetch: recorder.fetch }))
    await until(() => presencePosts(recorder.requests).length === 1, 'join sent')
    await until(() => joined(session.id), 'join answered')
    const heartbeats = () => presencePosts(recorder.requests).filter(body => body.action === 'heartbeat').length
    expect(presencePosts(recorder.requests)[0]!.action).toBe('join')

    vi.advanceTimersByTime(9_999)
    await flush()
    expect(heartbeats()).toBe(0)
    vi.advanceTimersByTime(1)
    await until(() => heartbeats() === 1, 'first heartbeat')
    vi.advanceTimersByTime(10_000)
    await until(() => heartbeats() === 2, 'second heartbeat')
    vi.advanceTimersByTime(30_000)
    await until(() => heartbeats() === 5, 'three more')
    expect(result.isJoined.value).toBe(true)

    wrapper.unmount()
    await until(() => presencePosts(recorder.requests).at(-1)?.action === 'leave', 'leave sent')
    vi.advanceTimersByTime(60_000)
    await flush()
    expect(heartbeats()).toBe(5)
  })

  it('stops heartbeating once the session has ended, and sends no leave the server would refuse', async () => {
    const session = await createSession(server)
    const recorder = recordingFetch()
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
    const { result, wrapper } = withSetup(() => usePresence(session.id, ada, { fetch: recorder.fetch }))
    await until(() => joined(session.id), 'join answered')
    const closed = await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: { authorization: `Bearer ${session.agentToken}` } })
    expect(closed.status).toBe(200)
    await until(() => !result.isJoined.value, 'presence stops at the end of the session')
    const sent = presencePosts(recorder.requests).length
    vi.advanceTimersByTime(60_000)
    await flush()
    wrapper.unmount()
    await flush()
    expect(presencePosts(recorder.requests)).toHaveLength(sent)
  })

  it('moves the local cursor at once but sends at most one update per 50 ms, one at a time, always the last position', async () => {
    const session = await createSession(server)
    const recorder = recordingFetch()
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
    const sentAt: number[] = []
    let inFlight = 0
    let mostInFlight = 0
    const timed = recordingFetch(async (input, init) => {
      if (!(typeof init?.body === 'string' && init.body.includes('"update"'))) return recorder.fetch(input, init)
      sentAt.push(Date.now())
      mostInFlight = Math.max(mostInFlight, ++inFlight)
      try {
        return await recorder.fetch(input, init)
      }
      finally {
        inFlight--
      }
    })
    const { result, wrapper } = withSetup(() => usePresence(session.id, ada, { fetch: timed.fetch }))
    await until(() => presencePosts(recorder.requests).length === 1, 'join sent')
    await until(() => joined(session.id), 'join answered')

    // 40 moves, 5 ms apart: 200 ms of dragging, while the first update is still on its way.
    for (let step = 0; step < 40; step++) {
      result.updateCursor(step, step * 2)
      expect(result.cursor.value).toEqual({ x: step, y: step * 2 })
      vi.advanceTimersByTime(5)
    }
    vi.advanceTimersByTime(100)
    const updates = () => presencePosts(recorder.requests).filter(body => body.action === 'update')
    await until(() => updates().at(-1)?.cursor?.x === 39 && inFlight === 0, 'the last position sent and answered')
    // The first move went at once; the others waited for its answer, and only the last position followed.
    expect(updates().map(body => body.cursor)).toEqual([{ x: 0, y: 0 }, { x: 39, y: 78 }])
    expect(mostInFlight).toBe(1)
    for (let i = 1; i < sentAt.length; i++) expect(sentAt[i]! - sentAt[i - 1]!).toBeGreaterThanOrEqual(50)

    vi.useRealTimers()
    const cursor = await eventually(async () => {
      const entry = (await details(server, session.id)).presence.find(record => record.userId === 'user-ada')
      return entry?.cursor?.x === 39 ? entry.cursor : undefined
    }, 'the last position reached the server')
    expect(cursor).toEqual({ x: 39, y: 78 })
    wrapper.unmount()
  })

  it('leaves by a keepalive request on pagehide and rejoins when the page is shown again from the bfcache', async () => {
    const session = await createSession(server)
    const { result, wrapper } = withSetup(() => usePresence(session.id, ada))
    await until(() => joined(session.id), 'joined')
    window.dispatchEvent(pageTransition('pagehide'))
    expect(result.isJoined.value).toBe(false)
    await expect(presenceOnServer(session.id, ids => ids.length === 0)).resolves.toEqual([])

    window.dispatchEvent(pageTransition('pageshow'))
    expect(result.isJoined.value).toBe(true)
    await expect(presenceOnServer(session.id, ids => ids.length === 1)).resolves.toEqual(['user-ada'])
    wrapper.unmount()
  })
  it('joins again when its key is refused: another tab of this user left, which ended the key', async () => {
    const session = await createSession(server)
    const recorder = recordingFetch()
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
    const { wrapper } = withSetup(() => usePresence(session.id, ada, { fetch: recorder.fetch }))
    await until(() => joined(session.id), 'join answered')
    const key = presenceKeyFor(session.id, ada.userId)!
    // The other tab's leave, straight to the server: this tab still holds the (now dead) key.
    expect((await postPresence(server, session, { userId: ada.userId, action: 'leave' }, withPresenceKey(key))).status).toBe(200)
    await presenceOnServer(session.id, ids => ids.length === 0)

    vi.advanceTimersByTime(10_000)
    await until(() => !joined(session.id), 'the refused heartbeat dropped the key')
    expect(presencePosts(recorder.requests).map(body => body.action)).toEqual(['join', 'heartbeat'])
    vi.advanceTimersByTime(10_000)
    await expect(presenceOnServer(session.id, ids => ids.length === 1)).resolves.toEqual(['user-ada'])
    expect(presencePosts(recorder.requests).map(body => body.action)).toEqual(['join', 'heartbeat', 'join'])
    expect(presenceKeyFor(session.id, ada.userId)).not.toBe(key)
    wrapper.unmount()
  })
})

describe('presence stream', () => {
  it('recovers from 410 Gone (presence history trimmed) by re-reading the session details', async () => {
    const session = await createSession(server)
    await postPresence(server, session, { userId: 'early', action: 'join' })
    const pinia = freshPinia()
    const store = useSessionStore(session.id, pinia)
    store.hydrate(await snapshot(server, session.id))
    const stale = store.presenceOffset
    await postPresence(server, session, { userId: 'later', action: 'join' })
    // Retention as of 11 minutes from now: all presence history so far is past its 10 minutes.
    const trimmed = await api(server, 'POST', '/api/admin/retention', { json: { now: Date.now() + 11 * 60_000 }, headers: { authorization: `Bearer ${server.token}` } })
    expect(trimmed.status).toBe(200)
    const read = await fetch(`${server.url}/v1/stream/sessions/${session.id}/presence?offset=${stale}`)
    expect(read.status).toBe(410)
    await read.text()

    const handle = acquireSession(session.id, { pinia })
    await until(() => handle.subscription.presence.status.value === 'live', 'presence is live again')
    const current = await details(server, session.id)
    expect(store.presenceOffset).toBe(current.presenceOffset)
    expect(Object.keys(store.presence).sort()).toEqual(current.presence.map(entry => entry.userId).sort())

    await postPresence(server, session, { userId: 'newcomer', displayName: 'New', action: 'join' })
    await until(() => 'newcomer' in store.presence, 'a join after the recovery arrives live')
    handle.release()
  })
})
