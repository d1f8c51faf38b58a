import { z } from 'zod'
import { SessionEventInputSchema } from '#layers/durable-sessions/shared/sessions/channels'

const EventBatchSchema = z.array(SessionEventInputSchema).min(1).max(1000)

/** One event or a batch; parsed by shape so a bad field is reported by its own path. */
const parseEvents = (body: unknown) => Array.isArray(body) ? EventBatchSchema.parse(body) : [SessionEventInputSchema.parse(body)]

/**
 * Appends `{channel, data}` (or an array of them) and answers the stream offset after the write.
 * Rate limits count the events, so the body is read first.
 */
export default defineApiHandler(async (event) => {
  const { id, service, role } = await sessionWriteContext(event, 0)
  const { body, raw } = await readJsonBody(event, parseEvents)
  await limitSessionWrites(event, role, body.length)
  const result = await service.publish(id, body, role, requestIdempotency(event, raw), presenceKeyHeader(event))
  // The built-in AI agent of the session (if it has one) starts following at its first prompt.
  // Not awaited: the prompt is stored, and the answer does not wait for the agent's lock.
  if (body.some(input => input.channel === 'prompts')) void startAiAgent(id)
  return result
})
