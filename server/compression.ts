import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

export type ContentCoding = 'br' | 'gzip'

/** Below this many bytes a body goes as it is: compressing would save less than a packet. */
export const MIN_COMPRESSED_BYTES = 1024

/**
 * The coding to answer in, from an Accept-Encoding header: brotli when accepted, else gzip, else
 * none. `q=0` refuses a coding, `*` accepts any not named. Linear in the header's length.
 */
export function chooseContentCoding(acceptEncoding: string | undefined): ContentCoding | undefined {
  if (!acceptEncoding) return undefined
  const weights = new Map<string, number>()
  for (const part of acceptEncoding.split(',')) {
    const [name = '', ...params] = part.split(';')
    const q = params.map(param => param.trim()).find(param => param.startsWith('q='))
    const weight = q === undefined ? 1 : Number(q.slice(2))
    weights.set(name.trim().toLowerCase(), Number.isFinite(weight) ? weight : 0)
  }
  const accepts = (coding: ContentCoding) => (weights.get(coding) ?? weights.get('*') ?? 0) > 0
  if (accepts('br')) return 'br'
  if (accepts('gzip')) return 'gzip'
  return undefined
}

/**
 * A response body compressed for the wire. Pages and API answers are made per request, so brotli
 * runs at a middle quality (level 11 costs more time than the bytes it saves are worth here).
 */
export function compressBody(body: string | Buffer, coding: ContentCoding): Buffer {
  return coding === 'br'
    ? brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: Buffer.byteLength(body) } })
    : gzipSync(body, { level: 6 })
}
