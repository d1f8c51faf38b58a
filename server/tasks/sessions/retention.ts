/** Hourly: trims old events, presence history and idempotency keys; deletes idle sessions. */
export default defineTask({
  meta: { name: 'sessions:retention', description: 'Apply event and session retention' },
  run() {
    return { result: runRetention() }
  },
})
