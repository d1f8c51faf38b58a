const SWEEP_INTERVAL_MS = 60_000

/**
 * Opens and migrates the database at start (a database that cannot be opened ends the process),
 * sweeps expired streams, and ends live readers on close.
 */
export default defineNitroPlugin((nitroApp) => {
  const { ready } = useBackend()
  ready.catch((error) => {
    console.error('[db] the database could not be opened', error)
    process.exit(1)
  })
  const store = useStreamStore()
  useStreamHttp()
  useServerToken()
  if (!isAuthEnabled()) console.warn('[streams] NUXT_DURABLE_SESSIONS_STREAMS_AUTH=off: protocol writes need no token')
  const sweep = () => store.sweepExpired().catch(error => console.error('[streams] expiry sweep failed', error))
  void ready.then(sweep)
  const sweeper = setInterval(sweep, SWEEP_INTERVAL_MS)
  sweeper.unref()
  // Nitro's graceful shutdown waits for open connections before running the close hook; live
  // readers would hold it for its whole timeout. End them on the signal itself: clients
  // reconnect to the next process from their offsets while in-flight writes finish.
  const endLiveReaders = () => useStreamHttp().closeLiveReaders()
  process.once('SIGTERM', endLiveReaders)
  process.once('SIGINT', endLiveReaders)
  nitroApp.hooks.hook('close', async () => {
    process.off('SIGTERM', endLiveReaders)
    process.off('SIGINT', endLiveReaders)
    clearInterval(sweeper)
    closeStreams()
    await closeBackend()
  })
})
