/**
 * Applies retention at start (the scheduled task repeats it hourly), seeds a public demo session
 * into an empty data dir so the first visit shows something, and stops demo agents on shutdown.
 */
export default defineNitroPlugin((nitroApp) => {
  runRetention()
  const service = useSessionService()
  if (useRuntimeConfig().durableSessions.seedDemo && service.list({ limit: 1, all: true }).sessions.length === 0) {
    const session = service.create({ title: 'Demo: fix the flaky checkout test', agentId: 'demo-agent', public: true }, '', { privileged: true })
    useDemoAgents().start({ sessionId: session.id, token: session.agentToken, agentId: session.agentId }, { speed: 1, autoApproveAfterMs: 60_000 })
    console.info(`[sessions] seeded a demo session: /sessions/${session.id}`)
  }
  nitroApp.hooks.hook('close', closeSessions)
})
