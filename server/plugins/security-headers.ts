import { randomBytes } from 'node:crypto'

/**
 * Pages get a strict Content-Security-Policy: scripts only from this origin or carrying the
 * per-response nonce (Nuxt's inline bootstrap gets it here), no plugins, no foreign framing —
 * except the embed route, which origins listed in NUXT_DURABLE_SESSIONS_EMBED_ORIGINS may frame; an embed
 * rendered interactive (embed-access.ts) only the one origin it was rendered for.
 * Dev mode is left alone: Vite's client needs inline and eval'd scripts.
 */
export default defineNitroPlugin((nitroApp) => {
  if (import.meta.dev) return
  nitroApp.hooks.hook('render:html', (html, { event }) => {
    const nonce = randomBytes(16).toString('base64')
    // Only Nuxt's own head and body-end chunks are touched; rendered content is escaped text.
    const withNonce = (chunk: string) => chunk.replace(/<script\b/g, `<script nonce="${nonce}"`)
    html.head = html.head.map(withNonce)
    html.bodyAppend = html.bodyAppend.map(withNonce)
    const embed = event.path.startsWith('/embed/')
    const writeOrigin = event.context.embedWriteOrigin as string | undefined
    setResponseHeaders(event, {
      'content-security-policy': contentSecurityPolicy(nonce, embed ? writeOrigin ?? ['\'self\'', ...embedOrigins()].join(' ') : '\'none\''),
      'referrer-policy': 'strict-origin-when-cross-origin',
      'x-content-type-options': 'nosniff',
      // An embed's page depends on who frames it (embed-access.ts): never one cache entry for all.
      ...(embed ? { 'vary': 'Referer, Sec-Fetch-Dest', 'cache-control': 'private, no-store' } : { 'x-frame-options': 'DENY' }),
    })
  })
})

function contentSecurityPolicy(nonce: string, ancestors: string): string {
  return [
    'default-src \'self\'',
    `script-src 'self' 'nonce-${nonce}'`,
    'style-src \'self\' \'unsafe-inline\'',
    'img-src \'self\' data: https:',
    'connect-src \'self\'',
    'object-src \'none\'',
    'base-uri \'self\'',
    'form-action \'self\'',
    `frame-ancestors ${ancestors}`,
  ].join('; ')
}

