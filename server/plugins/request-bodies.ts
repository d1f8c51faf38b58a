import { answerAfterBody } from '../streams/body'

/**
 * Every answer waits for its request's body (read and discarded when nobody read it), so a
 * client still uploading gets its 401, 404 or 413 instead of a reset connection: see
 * server/streams/body.ts. Bodies up to the largest the server accepts anywhere are drained
 * before the answer; longer ones get it at once and a lingering close.
 */
export default defineNitroPlugin((nitroApp) => {
  const drainBytes = Math.max(Number(useRuntimeConfig().durableSessions.streamsMaxAppendBytes), MAX_API_BODY_BYTES)
  nitroApp.hooks.hook('request', (event) => {
    answerAfterBody(event.node.req, event.node.res, drainBytes)
  })
})
