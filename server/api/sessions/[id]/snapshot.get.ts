import { z } from 'zod'

const SnapshotQuerySchema = z.object({
  /** `1`: the newest window of each list and where its history continues (what the pages load). */
  window: z.enum(['0', '1']).optional(),
})

/** Every channel materialised, and the offset the state stands at: resume live from there. */
export default defineApiHandler(async (event) => {
  const query = await getValidatedQuery(event, SnapshotQuerySchema.parse)
  return useSessionService().snapshot(sessionIdParam(event), { window: query.window === '1' })
})
