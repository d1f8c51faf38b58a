/** Every channel materialised, and the offset the state stands at: resume live from there. */
export default defineApiHandler(event => useSessionService().snapshot(sessionIdParam(event)))
