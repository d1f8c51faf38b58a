import { STREAM_BASE_PATH } from '#layers/durable-sessions/shared/sessions/paths'
import { chooseContentCoding, compressBody, MIN_COMPRESSED_BYTES } from '../compression'

/**
 * Rendered pages and session API answers go compressed (brotli or gzip) when the client accepts
 * it. Only whole bodies are: SSE and long-polls of the stream protocol write as events happen and
 * are never touched (so never buffered), nor is any streamed answer. Static assets are compressed
 * once at build (nitro.compressPublicAssets).
 */
export default defineNitroPlugin((nitroApp) => {
  nitroApp.hooks.hook('beforeResponse', (event, response) => {
    if (event.path.startsWith(STREAM_BASE_PATH) || event.node.res.headersSent || getResponseHeader(event, 'content-encoding')) return
    // The error page is rendered by an internal request carrying the visitor's headers, whose body
    // and headers the error handler copies as text: it must come back uncompressed.
    if (event.path.startsWith('/__nuxt_error')) return
    const body = response.body
    if (typeof body !== 'string' && !isJsonValue(body)) return
    const vary = getResponseHeader(event, 'vary')
    setResponseHeader(event, 'vary', vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding')
    // Nothing more to do for clients that take no compression (the server's own fetches in SSR).
    const coding = chooseContentCoding(getRequestHeader(event, 'accept-encoding'))
    if (!coding) return
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    if (Buffer.byteLength(text) < MIN_COMPRESSED_BYTES) return
    if (typeof body !== 'string' && !getResponseHeader(event, 'content-type')) setResponseHeader(event, 'content-type', 'application/json')
    setResponseHeader(event, 'content-encoding', coding)
    removeResponseHeader(event, 'content-length')
    response.body = compressBody(text, coding)
  })
})

/** A plain object or array a handler returned, which h3 would send as JSON. */
function isJsonValue(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return false
  const prototype = Object.getPrototypeOf(value)
  return Array.isArray(value) || prototype === Object.prototype || prototype === null
}
