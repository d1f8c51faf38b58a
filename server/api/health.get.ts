import { sql } from 'drizzle-orm'

/** Liveness for load balancers and test harnesses: the database answered a query. */
export default defineEventHandler(() => {
  useDB().get<{ ok: number }>(sql`select 1 as ok`)
  return { ok: true }
})
