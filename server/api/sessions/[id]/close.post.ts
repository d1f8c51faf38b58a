/** Ends the session: its streams close, so every reader sees EOF (agent token or server token). */
export default defineApiHandler(async (event) => {
  const { id, service, role } = await sessionWriteContext(event)
  return service.close(id, role)
})
