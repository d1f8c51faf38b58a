import { badRequest } from './errors'

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream'

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

/** `Type/Subtype; params` → lower-case essence with its parameters kept, or a 400. */
export function normalizeContentType(header: string): string {
  const [essence = '', ...params] = header.split(';')
  const [type, subtype, extra] = essence.trim().toLowerCase().split('/')
  if (!type || !subtype || extra !== undefined || !TOKEN.test(type) || !TOKEN.test(subtype))
    throw badRequest(`Invalid Content-Type: ${JSON.stringify(header)}`)
  const kept = params.map(param => param.trim()).filter(Boolean)
  return [`${type}/${subtype}`, ...kept].join('; ')
}

/** Two content types match when their essences do (parameters such as charset are ignored). */
export function sameMediaType(a: string, b: string): boolean {
  return essenceOf(a) === essenceOf(b)
}

export function essenceOf(contentType: string): string {
  const end = contentType.indexOf(';')
  return (end === -1 ? contentType : contentType.slice(0, end)).trim().toLowerCase()
}

export function isJsonContentType(contentType: string): boolean {
  return essenceOf(contentType) === 'application/json'
}

/** Text and JSON streams travel over SSE as UTF-8; every other type is base64 (§5.8). */
export function isTextContentType(contentType: string): boolean {
  const essence = essenceOf(contentType)
  return essence.startsWith('text/') || essence === 'application/json'
}

/**
 * Types a browser shows without running anything: plain text, JSON, raw bytes, bitmaps, audio,
 * video, fonts. Every other type — HTML, XHTML, SVG, any XML, scripts, PDF, multipart, and types
 * not known yet — is served as an attachment, so opening a stream's URL never renders it as a
 * document of this origin.
 */
const INERT_ESSENCE = /^(?:text\/(?:plain|csv|event-stream)|application\/(?:json|[\w.-]+\+json|(?:x-)?ndjson|octet-stream)|image\/(?:png|jpeg|gif|webp|avif|bmp)|(?:audio|video|font)\/[\w.+-]+)$/

export function isInertContentType(contentType: string): boolean {
  return INERT_ESSENCE.test(essenceOf(contentType))
}
