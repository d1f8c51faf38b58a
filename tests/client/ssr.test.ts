// @vitest-environment node
import { createPinia } from 'pinia'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createSSRApp, defineComponent, h } from 'vue'
import { renderToString } from 'vue/server-renderer'
import { usePresence } from '../../composables/usePresence'
import { useSession } from '../../composables/useSession'
import { useSessionStore } from '../../stores/session'
import { openSessionSubscriptions } from '../../sync/session-subscription'
import type { TestServer } from '../support/server'
import { createSession, publish, snapshot, startSessionServer } from '../support/sessions'

/** Server-side rendering, as Nuxt does it: no window, the store filled from the snapshot. */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

it('renders from the hydrated store without connecting, and leaves the offsets in the payload', async () => {
  const session = await createSession(server)
  await publish(server, session, { channel: 'terminal', data: { type: 'output', source: 'agent', data: 'rendered on the server' } })
  const snap = await snapshot(server, session.id)
  const requests: string[] = []
  const fetchSpy: typeof fetch = (input, init) => {
    requests.push(String(input))
    return fetch(input, init)
  }

  const pinia = createPinia()
  const Page = defineComponent({
    setup() {
      // What the session page does: hydrate once on the server; the browser finds it hydrated.
      const store = useSessionStore(session.id)
      if (!store.hydrated) store.hydrate(snap)
      const live = useSession(session.id, { fetch: fetchSpy, baseUrl: server.url })
      const presence = usePresence(session.id, { userId: 'u', displayName: 'U' }, { fetch: fetchSpy, baseUrl: server.url })
      return () => h('main', [
        h('p', `status: ${live.status.value}, loading: ${live.isLoading.value}, online: ${presence.onlineCount.value}`),
        h('ul', live.terminal.value.map(entry => h('li', entry.data))),
      ])
    },
  })
  const app = createSSRApp(Page)
  app.use(pinia)
  const html = await renderToString(app)

  expect(html).toContain('<li>rendered on the server</li>')
  expect(html).toContain('status: connecting, loading: false, online: 0')
  expect(requests).toEqual([])
  expect(openSessionSubscriptions(pinia)).toBe(0)
  const payload = JSON.parse(JSON.stringify(pinia.state.value))
  expect(payload[`session:${session.id}`]).toMatchObject({ offset: snap.offset, presenceOffset: snap.presenceOffset, hydrated: true })
})
