import { createHmac } from 'node:crypto'
import type { H3Event } from 'h3'
import { DemoAgents } from '../sessions/demo-agent'
import { SessionError } from '../sessions/errors'
import { StreamMaterializer } from '../sessions/materializer'
import { SessionService } from '../sessions/service'
import { ClientSlots } from '../streams/client-slots'

let service: SessionService | undefined
let materializer: StreamMaterializer | undefined
let demoAgents: DemoAgents | undefined
let demoSlots: ClientSlots | undefined

/** When a client refused a demo run may try again (seconds): runs take minutes. */
const DEMO_RETRY_AFTER_SECONDS = 30

export function useMaterializer(): StreamMaterializer {
  materializer ??= new StreamMaterializer(useStreamStore())
  return materializer
}

export function useSessionService(): SessionService {
  service ??= new SessionService(useDB(), useStreamStore(), useMaterializer(), {
    isServerToken: token => tokenEquals(token, useServerToken()),
    // Derived from the server token: nothing more to keep, and every instance sharing the token
    // accepts the same keys. A new server token ends every presence key (clients join again).
    presenceSecret: createHmac('sha256', useServerToken()).update('durable-sessions presence keys').digest(),
    presenceMaxUsersPerHour: Number(useRuntimeConfig().durableSessions.presenceMaxUsersPerHour),
  })
  return service
}

export function useDemoAgents(): DemoAgents {
  demoAgents ??= new DemoAgents({ server: IN_PROCESS_ORIGIN, fetch: inProcessFetch })
  return demoAgents
}

/**
 * A slot for one more demo run of this client (NUXT_DURABLE_SESSIONS_DEMO_MAX_RUNS_PER_CLIENT, else 429) within
 * the server's cap (NUXT_DURABLE_SESSIONS_DEMO_MAX_RUNS, else 503); the run frees it when it ends.
 */
export function takeDemoSlot(event: H3Event): () => void {
  const config = useRuntimeConfig().durableSessions
  demoSlots ??= new ClientSlots(Number(config.demoMaxRunsPerClient), Number(config.demoMaxRuns))
  const slot = demoSlots.take(clientAddress(event.node.req))
  const retry = { retryAfterSeconds: DEMO_RETRY_AFTER_SECONDS }
  if (slot === 'client') {
    throw new SessionError('rate_limited', `This client already runs ${config.demoMaxRunsPerClient} demo agents, the most NUXT_DURABLE_SESSIONS_DEMO_MAX_RUNS_PER_CLIENT allows: `
      + `retry when one has finished (in ${DEMO_RETRY_AFTER_SECONDS} s)`, retry)
  }
  if (slot === 'server') {
    throw new SessionError('busy', `The server already runs ${config.demoMaxRuns} demo agents, the most NUXT_DURABLE_SESSIONS_DEMO_MAX_RUNS allows: `
      + `retry in ${DEMO_RETRY_AFTER_SECONDS} s`, retry)
  }
  return slot
}

/** A placeholder origin: in-process requests only use the path. */
const IN_PROCESS_ORIGIN = 'http://in-process.invalid'

/**
 * fetch onto this server's own handlers without a socket (Nitro's localFetch), so an agent
 * inside the server uses the same HTTP API as one outside it.
 */
const inProcessFetch: typeof fetch = (input, init) => {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
  return useNitroApp().localFetch(`${url.pathname}${url.search}`, init)
}

/** Retention as of `now` (NUXT_DURABLE_SESSIONS_RETENTION_DAYS for events, NUXT_DURABLE_SESSIONS_PRESENCE_RETENTION_MINUTES for presence). */
export function runRetention(now = Date.now()) {
  const config = useRuntimeConfig().durableSessions
  return useSessionService().applyRetention(now, Number(config.retentionDays), Number(config.presenceRetentionMinutes))
}

/** Presence retention alone (NUXT_DURABLE_SESSIONS_PRESENCE_RETENTION_MINUTES), as of `now`: the every-minute task. */
export function runPresenceRetention(now = Date.now()) {
  return useSessionService().trimPresence(now, Number(useRuntimeConfig().durableSessions.presenceRetentionMinutes))
}

export function closeSessions(): void {
  demoAgents?.stopAll()
  materializer?.clear()
  demoAgents = undefined
  demoSlots = undefined
  materializer = undefined
  service = undefined
}
