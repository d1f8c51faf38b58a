// @vitest-environment happy-dom
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nextTick, ref } from 'vue'
import { usePresence } from '../../composables/usePresence'
import { useSession } from '../../composables/useSession'
import { useTerminal } from '../../composables/useTerminal'
import { openSessionInstances } from '../../sync/session-instances'
import { openSessionSubscriptions } from '../../sync/session-subscription'
import type { TestServer } from '../support/server'
import { agentHeaders, createSession, output, publish, startClientServer, until, withSetup } from './support'

let server: TestServer

beforeAll(async () => {
  server = await startClientServer()
})
afterAll(() => server?.stop())

describe('useSession', () => {
  it('loads the snapshot, goes live and applies new events in stream order', async () => {
    const session = await createSession(server)
    await publish(server, session, [output(1), output(2)])
    const { result, wrapper } = withSetup(() => useSession(session.id))
    expect(result.isLoading.value).toBe(true)
    await until(() => result.status.value === 'live', 'the session is live')
    expect(result.isLoading.value).toBe(false)
    expect(result.isConnected.value).toBe(true)
    expect(result.terminal.value.map(entry => entry.data)).toEqual(['line 1', 'line 2'])

    const offset = await publish(server, session, [output(3), output(4)])
    await until(() => result.offset.value === offset, 'the new events arrive')
    expect(result.terminal.value.map(entry => entry.data)).toEqual(['line 1', 'line 2', 'line 3', 'line 4'])
    wrapper.unmount()
  })

  it('shares one subscription between components and closes it with the last one', async () => {
    const session = await createSession(server)
    const first = withSetup(() => useSession(session.id))
    const second = withSetup(() => useSession(session.id), first.pinia)
    expect(openSessionSubscriptions(first.pinia)).toBe(1)
    expect(first.result.router.value).toBe(second.result.router.value)
    await until(() => second.result.isConnected.value, 'live')

    first.wrapper.unmount()
    expect(openSessionSubscriptions(first.pinia)).toBe(1)
    const offset = await publish(server, session, output('after'))
    await until(() => second.result.offset.value === offset, 'the remaining component still receives events')
    second.wrapper.unmount()
    expect(openSessionSubscriptions(first.pinia)).toBe(0)
  })

  it('gives useSession, useTerminal and usePresence of one session one shared instance: one store, one subscription, one user', async () => {
    const session = await createSession(server)
    const { result, wrapper, pinia } = withSetup(() => ({ session: useSession(session.id), terminal: useTerminal(session.id), presence: usePresence(session.id) }))
    const other = withSetup(() => useTerminal(session.id), pinia)
    expect(openSessionInstances(pinia)).toBe(1)
    expect(openSessionSubscriptions(pinia)).toBe(1)
    // The user presence joins as is the one decisions are made by: this browser's identity, read once.
    await until(() => result.session.isConnected.value && result.session.user.value.userId !== '', 'live, with a user id')
    const me = result.session.user.value.userId
    await until(() => result.presence.participants.value.some(entry => entry.userId === me), 'joined as that user')
    const offset = await publish(server, session, output('shared'))
    await until(() => result.session.offset.value === offset, 'the event arrives')
    expect(result.terminal.lines.value.map(line => line.data)).toEqual(['line shared'])

    wrapper.unmount()
    expect(openSessionInstances(pinia)).toBe(1)
    other.wrapper.unmount()
    expect(openSessionInstances(pinia)).toBe(0)
    expect(openSessionSubscriptions(pinia)).toBe(0)
  })

  it('ends in closed, without reconnecting, when the session is closed', async () => {
    const session = await createSession(server)
    const { result, wrapper } = withSetup(() => useSession(session.id))
    await until(() => result.isConnected.value, 'live')
    const response = await fetch(`${server.url}/api/sessions/${session.id}/close`, { method: 'POST', headers: agentHeaders(server, session) })
    expect(response.status).toBe(200)
    await until(() => result.status.value === 'closed', 'the stream reports EOF')
    await new Promise(resolve => setTimeout(resolve, 1500))
    expect(result.status.value).toBe('closed')
    expect(result.nextRetryAt.value).toBeNull()
    wrapper.unmount()
  })

  it('stops in error, without retrying, when the session does not exist', async () => {
    const { result, wrapper } = withSetup(() => useSession('no-such-session'))
    await until(() => result.status.value === 'error', 'the 404 is final')
    expect(result.error.value).toMatchObject({ status: 404 })
    expect(result.nextRetryAt.value).toBeNull()
    expect(result.isLoading.value).toBe(true)
    wrapper.unmount()
  })

  it('follows a session id that changes, taking its handlers along', async () => {
    const first = await createSession(server)
    const second = await createSession(server)
    const id = ref(first.id)
    const seen: string[] = []
    const { result, wrapper, pinia } = withSetup(() => {
      const live = useSession(id)
      live.on('terminal', data => seen.push(`${data.sessionId === first.id ? 'first' : 'second'} ${data.data}`))
      return live
    })
    await until(() => result.isConnected.value, 'live on the first session')
    const a = await publish(server, first, output('a'))
    await until(() => result.offset.value === a, 'first session event')

    id.value = second.id
    await nextTick()
    expect(openSessionSubscriptions(pinia)).toBe(1)
    await until(() => result.isConnected.value && result.store.value.hydrated, 'live on the second session')
    const b = await publish(server, second, output('b'))
    await until(() => result.offset.value === b, 'second session event')
    await publish(server, first, output('ignored'))
    expect(seen).toEqual(['first line a', 'second line b'])
    expect(result.terminal.value.map(entry => entry.data)).toEqual(['line b'])
    wrapper.unmount()
    expect(openSessionSubscriptions(pinia)).toBe(0)
  })
})
