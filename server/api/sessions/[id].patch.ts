import { UpdateSessionBodySchema } from '#layers/durable-sessions/shared/sessions/api'

/** Lists (`{public: true}`) or unlists the session (agent token or server token). */
export default defineApiHandler(async (event) => {
  const { id, service, role } = await sessionWriteContext(event)
  const { body } = await readJsonBody(event, UpdateSessionBodySchema.parse)
  return service.update(id, body, role)
})
