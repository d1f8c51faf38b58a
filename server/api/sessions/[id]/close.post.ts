/** Ends the session: its streams close, so every reader sees EOF (agent token or server token). */
export default defineApiHandler((event) => {
  const { id, service, role } = sessionWriteContext(event)
  return service.close(id, role)
})
