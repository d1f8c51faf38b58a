import { createHmac } from 'node:crypto'
import { DemoAgents } from '../sessions/demo-agent'
import { StreamMaterializer } from '../sessions/materializer'
import { SessionService } from '../sessions/service'

let service: SessionService | undefined
let materializer: StreamMaterializer | undefined
let demoAgents: DemoAgents | undefined

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
    presenceMaxUsersPerHour: Number(useRuntimeConfig().presenceMaxUsersPerHour),
  })
  return service
}

export function useDemoAgents(): DemoAgents {
  demoAgents ??= new DemoAgents({ server: IN_PROCESS_ORIGIN, fetch: inProcessFetch })
  return demoAgents
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

/** Retention as of `now` (NUXT_RETENTION_DAYS for events, NUXT_PRESENCE_RETENTION_MINUTES for presence). */
export function runRetention(now = Date.now()) {
  const config = useRuntimeConfig()
  return useSessionService().applyRetention(now, Number(config.retentionDays), Number(config.presenceRetentionMinutes))
}

/** Presence retention alone (NUXT_PRESENCE_RETENTION_MINUTES), as of `now`: the every-minute task. */
export function runPresenceRetention(now = Date.now()) {
  return useSessionService().trimPresence(now, Number(useRuntimeConfig().presenceRetentionMinutes))
}

export function closeSessions(): void {
  demoAgents?.stopAll()
  materializer?.clear()
  demoAgents = undefined
  materializer = undefined
  service = undefined
}
