/**
 * Applies retention at start (the scheduled task repeats it hourly), seeds a public demo session
 * into an empty data dir so the first visit shows something, has the built-in AI agent pick up
 * prompts it had not finished answering (a restart, a crash), and stops agents on shutdown.
 * Requests wait until this start-up work is done.
 */
export default defineNitroPlugin((nitroApp) => {
  const started = start().catch(error => console.error('[sessions] start-up housekeeping failed', error))
  nitroApp.hooks.hook('request', () => started)
  // At the signal, before graceful shutdown waits for open requests (see stopAgents).
  process.once('SIGTERM', stopAgents)
  process.once('SIGINT', stopAgents)
  nitroApp.hooks.hook('close', () => {
    process.off('SIGTERM', stopAgents)
    process.off('SIGINT', stopAgents)
    closeSessions()
  })
})

async function start(): Promise<void> {
  await useBackend().ready
  await runRetention()
  const service = useSessionService()
  if (useRuntimeConfig().durableSessions.seedDemo && (await service.list({ limit: 1, all: true })).sessions.length === 0) {
    const session = await service.create({ title: 'Demo: fix the flaky checkout test', agentId: 'demo-agent', public: true }, '', { privileged: true })
    useDemoAgents().start({ sessionId: session.id, token: session.agentToken, agentId: session.agentId }, { speed: 1, autoApproveAfterMs: 60_000 })
    console.info(`[sessions] seeded a demo session: /sessions/${session.id}`)
  }
  const ai = aiSettings().parsed
  if ('problem' in ai && useRuntimeConfig().durableSessions.ai.model) console.warn(`[ai] the built-in AI agent is off: ${ai.problem}`)
  await resumeAiAgents()
}
