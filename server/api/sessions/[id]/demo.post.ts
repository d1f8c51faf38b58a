import { z } from 'zod'
import { assertActive, assertCanManage } from '../../../sessions/access'

const DemoBodySchema = z.strictObject({
  /** Time multiplier (1 = ~30 tokens/s). */
  speed: z.number().min(0.1).max(50).default(1),
})

/** Runs the scripted demo agent on this session (agent token), within the demo caps. */
export default defineApiHandler(async (event) => {
  const { id, service, role } = await sessionWriteContext(event)
  assertCanManage(role, 'Starting the demo agent')
  const { body } = await readJsonBody(event, DemoBodySchema.parse)
  const session = await service.requireSession(id)
  assertActive(session)
  // The role check above means the request carried the agent or the server token: the demo publishes with it.
  const token = sessionCredentials(event).bearer!
  const slot = takeDemoSlot(event)
  const started = useDemoAgents().start({ sessionId: id, token, agentId: session.agentId }, { speed: body.speed, onEnd: slot })
  if (!started) slot()
  setResponseStatus(event, started ? 202 : 200)
  return { ok: true, running: true, started }
})
