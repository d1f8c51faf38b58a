/** Deletes the session and its streams (agent token or server token). */
export default defineApiHandler(async (event) => {
  const { id, service, role } = await sessionWriteContext(event)
  await service.delete(id, role)
  setResponseStatus(event, 204)
  return null
})
