// @vitest-environment happy-dom
import { createPinia } from 'pinia'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { useSession } from '../../composables/useSession'
import { useSessionStore } from '../../stores/session'
import type { TestServer } from '../support/server'
import { postPresence, snapshot } from '../support/sessions'
import { createSession, freshPinia, output, publish, recordingFetch, startClientServer, until, withSetup } from './support'

let server: TestServer

beforeAll(async () => {
  server = await startClientServer()
})
afterAll(() => server?.stop())

it('resumes live from exactly the offsets the server rendered at, without fetching a snapshot', async () => {
  const session = await createSession(server)
  await publish(server, session, [output(1), output(2)])
  await postPresence(server, session, { userId: 'bob', displayName: 'Bob', action: 'join' })
  const snap = await snapshot(server, session.id)

  // The server render: the store hydrated from the snapshot, Pinia's state serialised into the page.
  const serverPinia = createPinia()
  useSessionStore(session.id, serverPinia).hydrate(snap)
  const payload = JSON.stringify(serverPinia.state.value)

  // Written between the render and the browser taking over: it must arrive, once.
  await publish(server, session, output(3))
  await postPresence(server, session, { userId: 'eve', displayName: 'Eve', action: 'join' })

  const browserPinia = freshPinia()
  browserPinia.state.value = JSON.parse(payload)
  const recorder = recordingFetch()
  const { result, wrapper } = withSetup(() => useSession(session.id, { fetch: recorder.fetch }), browserPinia)
  // Rendered state is there before any request.
  expect(result.isLoading.value).toBe(false)
  expect(result.terminal.value.map(entry => entry.data)).toEqual(['line 1', 'line 2'])

  const last = await publish(server, session, output(4))
  await until(() => result.offset.value === last && result.isConnected.value, 'caught up and live')
  await until(() => 'eve' in result.presence.value, 'the presence written meanwhile arrived')
  expect(result.terminal.value.map(entry => entry.data)).toEqual(['line 1', 'line 2', 'line 3', 'line 4'])
  expect(Object.keys(result.presence.value).sort()).toEqual(['bob', 'eve'])

  const urls = recorder.requests.map(request => new URL(request.url))
  expect(urls.filter(url => url.pathname.startsWith('/api/'))).toEqual([])
  const firstRead = (path: string) => urls.find(url => url.pathname === path)?.searchParams.get('offset')
  expect(firstRead(`/v1/stream/sessions/${session.id}`)).toBe(snap.offset)
  expect(firstRead(`/v1/stream/sessions/${session.id}/presence`)).toBe(snap.presenceOffset)
  wrapper.unmount()
})
