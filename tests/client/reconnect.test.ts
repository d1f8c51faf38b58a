// @vitest-environment happy-dom
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { useSession } from '../../composables/useSession'
import { useSessionStore } from '../../stores/session'
import type { LiveStatus, ReconnectInfo } from '../../transport/live-stream'
import { acquireSession, subscribeToSession } from '../../sync/session-subscription'
import type { TestServer } from '../support/server'
import { snapshot } from '../support/sessions'
import { createSession, freshPinia, output, publish, startClientServer, until, withSetup } from './support'

let server: TestServer

beforeAll(async () => {
  server = await startClientServer()
})
afterAll(() => server?.stop())

/** Terminal lines as the server holds them (its own snapshot) and as the client does. */
async function expectSameTerminal(sessionId: string, clientEntries: { id: string, data: string }[]) {
  const serverEntries = (await snapshot(server, sessionId)).state.terminal
  expect(clientEntries.map(entry => entry.id)).toEqual(serverEntries.map(entry => entry.id))
  expect(new Set(clientEntries.map(entry => entry.id)).size).toBe(clientEntries.length)
}

describe('reconnect', () => {
  // A graceful restart ends the SSE response cleanly, as the server's 60 s cycling does: the
  // client reconnects at once and, if the next process is already up, never sees a failure. A
  // crash breaks the connection, so the client must go through 'reconnecting' and its backoff.
  it.each([
    ['a graceful restart', false, (target: TestServer) => target.restart()],
    ['a crash (SIGKILL) and restart', true, async (target: TestServer) => {
      await target.kill()
      await target.restart()
    }],
  ])('resumes from its own offset after %s: no duplicate, no gap', async (_, breaksConnection, bounce) => {
    const session = await createSession(server)
    await publish(server, session, [output(1), output(2)])
    const reconnects: ReconnectInfo[] = []
    const { result, wrapper, pinia } = withSetup(() => {
      const live = useSession(session.id)
      live.onReconnect(info => reconnects.push(info))
      return live
    })
    // The plain-function form, for code outside components, shares the same connection.
    const statuses: LiveStatus[] = []
    const stop = subscribeToSession(session.id, { onStatus: status => statuses.push(status) }, { pinia })
    await until(() => result.isConnected.value, 'live')
    const before = result.offset.value

    await bounce(server)
    // Written while the client is still waiting to reconnect: it must arrive through catch-up.
    await publish(server, session, [output(3), output(4)])
    const last = await publish(server, session, output(5))
    await until(() => result.offset.value === last && result.isConnected.value, 'the client has caught up and is live')

    if (breaksConnection) {
      expect(statuses).toContain('reconnecting')
      expect(reconnects.some(info => info.offset === before)).toBe(true)
    }
    expect(result.terminal.value.map(entry => entry.data)).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5'])
    await expectSameTerminal(session.id, result.terminal.value)
    stop()
    wrapper.unmount()
  })

  it('waits 1 s, 2 s, 4 s … up to 30 s between attempts and says when the next one is due', async () => {
    const session = await createSession(server)
    await publish(server, session, output(1))
    const pinia = freshPinia()
    // As after SSR: the store is hydrated, so the subscription goes straight to the stream.
    useSessionStore(session.id, pinia).hydrate(await snapshot(server, session.id))
    await server.kill()

    // Only timers and the clock are fake; every attempt is a real request to a closed port.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const handle = acquireSession(session.id, { pinia })
    const main = handle.subscription.main
    const statuses: LiveStatus[] = []
    handle.subscription.listen({ onStatus: status => statuses.push(status) })
    const delays: number[] = []
    try {
      for (let attempt = 1; attempt <= 7; attempt++) {
        await until(() => main.attempt.value === attempt && main.nextRetryAt.value !== null, `attempt ${attempt} has failed`)
        expect(main.status.value).toBe('reconnecting')
        const delay = main.nextRetryAt.value! - Date.now()
        delays.push(delay)
        vi.advanceTimersByTime(delay - 1)
        expect(main.attempt.value).toBe(attempt)
        vi.advanceTimersByTime(1)
      }
    }
    finally {
      vi.useRealTimers()
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000])
    expect(statuses).toEqual(['reconnecting'])

    await server.restart()
    await until(() => main.attempt.value === 8, 'the eighth attempt has failed')
    handle.subscription.retryNow()
    await until(() => main.status.value === 'live', 'live again')
    expect(main.attempt.value).toBe(0)
    expect(main.nextRetryAt.value).toBeNull()
    expect(statuses).toEqual(['reconnecting', 'live'])
    handle.release()
  })
})
