import { z } from 'zod'

const ListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(500).optional(),
  q: z.string().trim().max(200).optional(),
})

/** Public sessions, newest first, a page at a time; with the server token, every session. */
export default defineApiHandler(async (event) => {
  const all = requestHasServerToken(event, 'Listing sessions')
  const query = await getValidatedQuery(event, ListQuerySchema.parse)
  return useSessionService().list({ ...query, q: query.q || undefined, all })
})
