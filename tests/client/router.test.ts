// @vitest-environment happy-dom
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { useSession } from '../../composables/useSession'
import type { SessionEvent } from '../../shared/sessions/channels'
import { SessionEventRouter } from '../../shared/sessions/router'
import type { TestServer } from '../support/server'
import { createSession, output, publish, startClientServer, until, withSetup } from './support'

const terminalEvent = (data: string): SessionEvent => ({
  channel: 'terminal',
  data: { id: data, sessionId: 's', type: 'output', data, source: 'agent', timestamp: new Date(0).toISOString() },
})

describe('SessionEventRouter', () => {
  it('routes to every handler of the channel, and a removed handler no longer runs', () => {
    const router = new SessionEventRouter()
    const seen: string[] = []
    const removeFirst = router.on('terminal', data => seen.push(`first ${data.data}`))
    router.on('terminal', data => seen.push(`second ${data.data}`))
    router.on('chunks', () => seen.push('chunk'))
    router.route(terminalEvent('a'))
    removeFirst()
    router.route(terminalEvent('b'))
    expect(seen).toEqual(['first a', 'second a', 'second b'])
    expect(router.handlerCount('terminal')).toBe(1)
    router.clear()
    expect(router.handlerCount()).toBe(0)
  })

  it('isolates a failing handler: the others still run and the error is reported', () => {
    const onError = vi.fn()
    const router = new SessionEventRouter({ onError })
    const seen: string[] = []
    router.on('terminal', () => {
      throw new Error('broken handler')
    })
    router.on('terminal', data => seen.push(data.data))
    router.route(terminalEvent('a'))
    expect(seen).toEqual(['a'])
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: 'broken handler' }), terminalEvent('a'))
  })

  it('does not skip a neighbour when a handler removes itself while routing', () => {
    const router = new SessionEventRouter()
    const seen: string[] = []
    const remove = router.on('terminal', () => {
      seen.push('once')
      remove()
    })
    router.on('terminal', () => seen.push('always'))
    router.route(terminalEvent('a'))
    router.route(terminalEvent('b'))
    expect(seen).toEqual(['once', 'always', 'always'])
  })
})

describe('useSession router', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startClientServer()
  })
  afterAll(() => server?.stop())

  it('fans live events out to handlers; a throwing handler affects neither its neighbours nor the store', async () => {
    const session = await createSession(server)
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
    const lines: string[] = []
    const first = withSetup(() => {
      const live = useSession(session.id)
      live.on('terminal', () => {
        throw new Error('handler bug')
      })
      live.on('terminal', data => lines.push(data.data))
      return live
    })
    const other = withSetup(() => useSession(session.id), first.pinia)
    const otherLines: string[] = []
    other.result.on('terminal', data => otherLines.push(data.data))
    await until(() => first.result.isConnected.value, 'live')
    expect(first.result.router.value?.handlerCount('terminal')).toBe(3)

    const offset = await publish(server, session, [output(1), output(2)])
    await until(() => first.result.offset.value === offset, 'events arrived')
    expect(lines).toEqual(['line 1', 'line 2'])
    expect(otherLines).toEqual(['line 1', 'line 2'])
    expect(first.result.terminal.value).toHaveLength(2)
    expect(errors).toHaveBeenCalled()

    // Unmounting removes that component's handlers from the shared router, and only those.
    first.wrapper.unmount()
    expect(other.result.router.value?.handlerCount('terminal')).toBe(1)
    const next = await publish(server, session, output(3))
    await until(() => other.result.offset.value === next, 'the next event arrived')
    expect(lines).toEqual(['line 1', 'line 2'])
    expect(otherLines).toEqual(['line 1', 'line 2', 'line 3'])
    other.wrapper.unmount()
    errors.mockRestore()
  })
})
