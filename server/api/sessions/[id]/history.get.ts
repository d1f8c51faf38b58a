import { z } from 'zod'
import { HISTORY_LISTS, MAX_HISTORY_PAGE } from '#layers/durable-sessions/shared/sessions/window'

const HistoryQuerySchema = z.object({
  list: z.enum(HISTORY_LISTS),
  /** Key of the oldest item held: the page ends just before it (a snapshot's or page's cursor). */
  before: z.string().min(1).max(500),
  limit: z.coerce.number().int().min(1).max(MAX_HISTORY_PAGE).default(40),
})

/** A page of a list's earlier history, for a viewer scrolling back through a long session. */
export default defineApiHandler(async (event) => {
  const { list, before, limit } = await getValidatedQuery(event, HistoryQuerySchema.parse)
  return useSessionService().history(sessionIdParam(event), list, before, limit)
})
