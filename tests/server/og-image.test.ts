import { inflateSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cardLines } from '../../server/sessions/session-card'
import type { CreatedSession } from '../../shared/sessions/api'
import type { TestServer } from '../support/server'
import { createSession, publish, startSessionServer } from '../support/sessions'

/**
 * A session link's preview image: a real PNG of the session's card, linked from the page's
 * og:image, rendered again after the session changes and revalidated by ETag.
 */

let server: TestServer
let session: CreatedSession

beforeAll(async () => {
  server = await startSessionServer()
  session = await createSession(server, { title: 'Fix the flaky checkout test' })
})
afterAll(() => server?.stop())

interface DecodedPng {
  width: number
  height: number
  /** Bytes of raw scanlines after inflating IDAT (a filter byte per row, then the row's pixels). */
  scanlineBytes: number
  bytesPerPixel: number
}

/** Decodes a PNG's structure: signature, IHDR, every chunk, the inflated image data. */
function decodePng(png: Buffer): DecodedPng {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
  let at = 8
  const idat: Buffer[] = []
  let header: Buffer | undefined
  for (;;) {
    const length = png.readUInt32BE(at)
    const type = png.toString('latin1', at + 4, at + 8)
    const data = png.subarray(at + 8, at + 8 + length)
    if (type === 'IHDR') header = data
    if (type === 'IDAT') idat.push(data)
    at += 12 + length
    if (type === 'IEND') break
  }
  expect(header).toBeDefined()
  const channels: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 }
  const bitDepth = header!.readUInt8(8)
  expect(bitDepth).toBe(8)
  return {
    width: header!.readUInt32BE(0),
    height: header!.readUInt32BE(4),
    scanlineBytes: inflateSync(Buffer.concat(idat)).length,
    bytesPerPixel: channels[header!.readUInt8(9)]!,
  }
}

async function ogImageUrl(): Promise<string> {
  const html = await (await fetch(`${server.url}/sessions/${session.id}`)).text()
  const url = /<meta property="og:image" content="([^"]+)"/.exec(html)?.[1]
  expect(url).toBeDefined()
  expect(html).toContain('<meta name="twitter:card" content="summary_large_image">')
  return url!.replace(/&amp;/g, '&')
}

describe('the og:image of a session', () => {
  it('is a 1200×630 PNG that changes after a new event, and answers 304 while it has not', async () => {
    await publish(server, session, { channel: 'chunks', data: { agentId: session.agentId, turn: 0, text: 'The checkout test waits for a timer.' } })
    const first = await fetch(await ogImageUrl())
    expect(first.status).toBe(200)
    expect(first.headers.get('content-type')).toBe('image/png')
    const etag = first.headers.get('etag')!
    const image = Buffer.from(await first.arrayBuffer())
    const decoded = decodePng(image)
    expect(decoded).toMatchObject({ width: 1200, height: 630 })
    expect(decoded.scanlineBytes).toBe(630 * (1 + 1200 * decoded.bytesPerPixel))

    const again = await fetch(`${server.url}/api/sessions/${session.id}/og.png`, { headers: { 'if-none-match': etag } })
    expect(again.status).toBe(304)

    await publish(server, session, { channel: 'chunks', data: { agentId: session.agentId, turn: 1, text: 'Fixed: the test now uses fake timers.' } })
    const url = await ogImageUrl()
    const changed = await fetch(url, { headers: { 'if-none-match': etag } })
    expect(changed.status).toBe(200)
    expect(changed.headers.get('etag')).not.toBe(etag)
    const next = Buffer.from(await changed.arrayBuffer())
    expect(decodePng(next)).toMatchObject({ width: 1200, height: 630 })
    expect(next.equals(image)).toBe(false)
  })

  it('answers 404 for an unknown session', async () => {
    expect((await fetch(`${server.url}/api/sessions/no-such-session/og.png`)).status).toBe(404)
  })

  it('keeps the tail of the conversation that fits, in Latin text', () => {
    expect(cardLines(['first', 'second'])).toEqual(['first', 'second'])
    const long = cardLines(['a'.repeat(10), `${'word '.repeat(200)}end`])
    expect(long).toHaveLength(1)
    expect(long[0]!.startsWith('…word')).toBe(true)
    expect(long[0]!.endsWith('end')).toBe(true)
    expect(cardLines(['✓ done 🎉 <b>bold</b>'])).toEqual(['done <b>bold</b>'])
  })
})
