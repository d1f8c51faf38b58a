import { createHmac } from 'node:crypto'
import type { H3Event } from 'h3'
import type { LanguageModel } from 'ai'
import type { ServerAgents } from '#layers/durable-sessions/shared/sessions/api'
import type { AiAgents } from '../sessions/ai-agent'
import { loadAiModel, parseAiConfig } from '../sessions/ai-model'
import type { AiConfig } from '../sessions/ai-model'
import { DemoAgents } from '../sessions/demo-agent'
import { SessionError } from '../sessions/errors'
import { StreamMaterializer } from '../sessions/materializer'
import { SessionService } from '../sessions/service'
import { ClientSlots } from '../streams/client-slots'

let service: SessionService | undefined
let materializer: StreamMaterializer | undefined
let demoAgents: DemoAgents | undefined
let demoSlots: ClientSlots | undefined
let aiAgents: Promise<AiAgents> | undefined
let aiModel: Promise<LanguageModel> | undefined

/** When a client refused a demo run may try again (seconds): runs take minutes. */
const DEMO_RETRY_AFTER_SECONDS = 30

export function useMaterializer(): StreamMaterializer {
  materializer ??= new StreamMaterializer(useStreamStore())
  return materializer
}

export function useSessionService(): SessionService {
  service ??= new SessionService(useBackend().sessions, useStreamStore(), useMaterializer(), {
    isServerToken: token => tokenEquals(token, useServerToken()),
    // Derived from the server token: nothing more to keep, and every instance sharing the token
    // accepts the same keys. A new server token ends every presence key (clients join again).
    presenceSecret: createHmac('sha256', useServerToken()).update('durable-sessions presence keys').digest(),
    presenceMaxUsersPerHour: Number(useRuntimeConfig().durableSessions.presenceMaxUsersPerHour),
    limits: useBackend().limits,
  })
  return service
}

export function useDemoAgents(): DemoAgents {
  demoAgents ??= new DemoAgents({ server: IN_PROCESS_ORIGIN, fetch: inProcessFetch })
  return demoAgents
}

/** The built-in AI agent's configuration (NUXT_DURABLE_SESSIONS_AI_*): the model, or why there is none. */
export function aiSettings() {
  const config = useRuntimeConfig().durableSessions.ai as AiConfig
  return { config, parsed: parseAiConfig(config) }
}

/** What GET /api/agents answers: whether sessions may have the built-in AI agent, and how to configure it. */
export function serverAgents(): ServerAgents {
  const { config, parsed } = aiSettings()
  return 'spec' in parsed
    ? { ai: { available: true, model: config.model, setup: 'The built-in AI agent answers prompts in sessions created with it.' } }
    : { ai: { available: false, model: null, setup: parsed.problem } }
}

/**
 * The built-in AI agents. Their module, and with it the AI SDK, loads when a session first needs
 * one: a server that never runs the AI agent does not carry it (tens of MB of memory).
 */
function useAiAgents(): Promise<AiAgents> {
  aiAgents ??= import('../sessions/ai-agent').then(({ AiAgents }) => new AiAgents({ server: IN_PROCESS_ORIGIN, fetch: inProcessFetch }, useServerToken, () => {
    const { config, parsed } = aiSettings()
    if (!('spec' in parsed)) return Promise.reject(new Error(parsed.problem))
    aiModel ??= loadAiModel(parsed.spec, config)
    return aiModel
  }, (name, onLost) => useBackend().sessions.tryHold(name, onLost)))
  return aiAgents
}

/**
 * Has the built-in AI agent answer the session's prompts, if it is an AI session and a model is
 * configured. Never fails the request that asked: the prompt is stored, and the minute task
 * (resumeAiAgents) tries again.
 */
export async function startAiAgent(sessionId: string): Promise<void> {
  try {
    const row = await useSessionService().requireSession(sessionId)
    if (row.builtinAgent !== 'ai' || row.status !== 'active' || !('spec' in aiSettings().parsed)) return
    await (await useAiAgents()).ensure({ sessionId: row.id, agentId: row.agentId })
  }
  catch (error) {
    console.warn(`[ai] session ${sessionId}: the agent did not start: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/**
 * The built-in AI agent picks up the sessions with a prompt it has not finished answering: at
 * start (a restart, a crash), and every minute, for sessions whose instance has gone.
 */
export async function resumeAiAgents(): Promise<void> {
  if (!('spec' in aiSettings().parsed)) return
  for (const row of await useSessionService().sessionsAwaitingAi()) await startAiAgent(row.id)
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

/**
 * Stops the in-process agents (demo and AI). Called on SIGTERM/SIGINT, not only on close: a closing
 * server ends every live read at once, and an agent that is still following would reconnect to it
 * in a loop while graceful shutdown waits for open requests. The built-in AI agent picks up
 * unfinished answers in the next process.
 */
export function stopAgents(): void {
  demoAgents?.stopAll()
  // A module still loading stops as soon as it is there (AiAgents.ensure checks that it was
  // stopped); one that failed to load has nothing to stop (startAiAgent reported it).
  void aiAgents?.then(agents => agents.stopAll(), () => {})
}

export function closeSessions(): void {
  stopAgents()
  aiAgents = undefined
  aiModel = undefined
  materializer?.clear()
  demoAgents = undefined
  demoSlots = undefined
  materializer = undefined
  service = undefined
}
