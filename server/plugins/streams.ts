const SWEEP_INTERVAL_MS = 60_000

/** Opens and migrates the database at start, sweeps expired streams, and ends live readers on close. */
export default defineNitroPlugin((nitroApp) => {
  const store = useStreamStore()
  useStreamHttp()
  if (isAuthEnabled()) useServerToken()
  else console.warn('[streams] NUXT_STREAMS_AUTH=off: protocol writes need no token')
  store.sweepExpired()
  const sweeper = setInterval(() => store.sweepExpired(), SWEEP_INTERVAL_MS)
  sweeper.unref()
  nitroApp.hooks.hook('close', () => {
    clearInterval(sweeper)
    closeStreams()
    closeDB()
  })
})
