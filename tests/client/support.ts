import { mount } from '@vue/test-utils'
import type { VueWrapper } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import type { Pinia } from 'pinia'
import { defineComponent, h } from 'vue'
import type { CreatedSession } from '../../shared/sessions/api'
import type { TestServer } from '../support/server'
import { as, createSession, publish, startSessionServer } from '../support/sessions'

/**
 * Client tests run in happy-dom against the real built server. happy-dom's fetch streams SSE,
 * so the composables use it exactly as they would use a browser's: the page's origin is set to
 * the server's, making every request same-origin like in the app.
 */

interface HappyDomWindow {
  happyDOM: { setURL: (url: string) => void }
}

// Captured before any test fakes timers: polling must keep real time.
const realSetTimeout = globalThis.setTimeout

/** The built server (no demo seed, no rate limits), with the page's origin set to it. */
export async function startClientServer(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startSessionServer({ env })
  ;(window as unknown as HappyDomWindow).happyDOM.setURL(`${server.url}/sessions/test`)
  return server
}

export { as, createSession, publish }

export function agentHeaders(server: TestServer, session: CreatedSession): Record<string, string> {
  return as('agent', session, server)
}

/** A terminal output line from the agent; `n` makes its text unique. */
export function output(n: number | string) {
  return { channel: 'terminal', data: { type: 'output', source: 'agent', data: `line ${n}` } }
}

export interface Mounted<T> {
  result: T
  wrapper: VueWrapper
  pinia: Pinia
}

/** Runs a composable inside a real component of a fresh app (fresh Pinia unless one is given). */
export function withSetup<T>(composable: () => T, pinia: Pinia = freshPinia()): Mounted<T> {
  let result: T | undefined
  const Host = defineComponent({
    setup() {
      result = composable()
      return () => h('div')
    },
  })
  const wrapper = mount(Host, { global: { plugins: [pinia] } })
  return { result: result as T, wrapper, pinia }
}

export function freshPinia(): Pinia {
  const pinia = createPinia()
  setActivePinia(pinia)
  return pinia
}

/**
 * Waits in real time (also while timers are faked) until `condition` holds. Nothing is asserted
 * about how long it took; the timeout only turns a hang into a failure.
 */
export async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > timeoutMs) throw new Error(`Timed out waiting until ${what}`)
    await new Promise(resolve => realSetTimeout(resolve, 10))
  }
}

/** Lets pending promise callbacks and I/O run, without advancing fake timers. */
export function flush(): Promise<void> {
  return new Promise(resolve => setImmediate(resolve))
}

/** A fetch that notes every request (method, URL, headers, body) and passes it on unchanged. */
export function recordingFetch(base: typeof fetch = globalThis.fetch.bind(globalThis)) {
  const requests: { method: string, url: string, headers: Record<string, string>, body?: string }[] = []
  const recorded: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input)
    const headers = Object.fromEntries(new Headers(init?.headers).entries())
    requests.push({ method: init?.method ?? 'GET', url, headers, body: typeof init?.body === 'string' ? init.body : undefined })
    return base(input, init)
  }
  return { fetch: recorded, requests }
}
