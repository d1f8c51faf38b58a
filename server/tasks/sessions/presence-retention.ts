/** Every minute: presence history past NUXT_DURABLE_SESSIONS_PRESENCE_RETENTION_MINUTES leaves the presence streams. */
export default defineTask({
  meta: { name: 'sessions:presence-retention', description: 'Trim presence history' },
  run() {
    return { result: { trimmedStreams: runPresenceRetention() } }
  },
})
