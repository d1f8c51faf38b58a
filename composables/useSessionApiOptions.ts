import { useRequestEvent } from '#imports'
import type { SessionClientOptions } from '../transport/session-api'

/**
 * How a page reaches the session API. During SSR: relative URLs through the request's own `fetch`,
 * so the call stays inside the server (no network round trip); in the browser, the defaults (the
 * page's origin). Call it in setup, before any `await`.
 */
export function useSessionApiOptions(): SessionClientOptions {
  const event = useRequestEvent()
  if (!event) return {}
  return { baseUrl: '', fetch: (input, init) => event.fetch(input instanceof URL ? input.href : input, init) }
}
