const SWEEP_INTERVAL_MS = 60_000

/** Opens and migrates the database at start, sweeps expired streams, and ends live readers on close. */
export default defineNitroPlugin((nitroApp) => {
  const store = useStreamStore()
  useStreamHttp()
  if (isAuthEnabled()) useServerToken()
  else console.warn('[streams] NUXT_DURABLE_SESSIONS_STREAMS_AUTH=off: protocol writes need no token')
  store.sweepExpired()
  const sweeper = setInterval(() => store.sweepExpired(), SWEEP_INTERVAL_MS)
  sweeper.unref()
  // Nitro's graceful shutdown waits for open connections before running the close hook; live
  // readers would hold it for its whole timeout. End them on the signal itself: clients
  // reconnect to the next process from their offsets while in-flight writes finish.
  const endLiveReaders = () => useStreamHttp().closeLiveReaders()
  process.once('SIGTERM', endLiveReaders)
  process.once('SIGINT', endLiveReaders)
  nitroApp.hooks.hook('close', () => {
    process.off('SIGTERM', endLiveReaders)
    process.off('SIGINT', endLiveReaders)
    clearInterval(sweeper)
    closeStreams()
    closeDB()
  })
})
