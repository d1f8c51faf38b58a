import { LookupSessionsBodySchema } from '#layers/durable-sessions/shared/sessions/api'

/**
 * The sessions of the given ids that exist (a browser's own list: ids it created or opened).
 * A POST so that the ids, which are secrets, stay out of URLs and therefore out of logs.
 */
export default defineApiHandler(async (event) => {
  const { body } = await readJsonBody(event, LookupSessionsBodySchema.parse)
  return useSessionService().lookup(body.ids, body.q || undefined)
})
