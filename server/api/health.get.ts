/** Liveness for load balancers and test harnesses: the database answered a query. */
export default defineEventHandler(async () => {
  await useBackend().ping()
  return { ok: true }
})
