import { request as httpRequest } from 'node:http'
import type { IncomingMessage } from 'node:http'
import { stream } from '@durable-streams/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openRequest } from '../support/http'
import type { TestServer } from '../support/server'
import { as, createSession, publish, snapshot, startSessionServer } from '../support/sessions'
import { call, readAll, streamUrl } from '../support/streams'

/**
 * SIGTERM, the way an orchestrator ends a process: live readers are ended at once and cleanly
 * (SSE after a final control event, long-polls with 204), writes already in flight finish and
 * are acknowledged, nothing new is accepted, and clients carry on against the next process from
 * their own offsets.
 */

let server: TestServer

beforeAll(async () => {
  // Long-polls that would otherwise wait 30 s: only the shutdown can end them quickly.
  server = await startSessionServer({ env: { NUXT_DURABLE_SESSIONS_STREAMS_LONG_POLL_TIMEOUT_MS: '30000' } })
})
afterAll(() => server?.stop())

interface Ended {
  status: number
  headers: IncomingMessage['headers']
  body: string
  /** `end` with the whole body (chunked terminator seen), rather than a reset. */
  clean: boolean
  endedAt: number
}

/** Opens a GET that stays open (SSE, long-poll); resolves once it has ended, however it ended. */
function openLive(url: string, onData?: (text: string) => void): { opened: Promise<void>, ended: Promise<Ended> } {
  let markOpened!: () => void
  const opened = new Promise<void>((resolve) => { markOpened = resolve })
  const ended = new Promise<Ended>((resolve) => {
    const request = httpRequest(url, { agent: false }, (response) => {
      markOpened()
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (text: string) => {
        body += text
        onData?.(body)
      })
      response.on('close', () => resolve({ status: response.statusCode!, headers: response.headers, body, clean: response.complete, endedAt: Date.now() }))
    })
    request.on('error', () => resolve({ status: 0, headers: {}, body: '', clean: false, endedAt: Date.now() }))
    request.end()
  })
  return { opened, ended }
}

/** The events of an SSE body, in order. */
function sseEvents(body: string): Array<{ event: string, data: string }> {
  return body.split('\n\n').filter(block => block.trim() && !block.startsWith(':')).map((block) => {
    const lines = block.split('\n')
    const event = lines.find(line => line.startsWith('event:'))?.slice(6).trim() ?? 'message'
    const data = lines.filter(line => line.startsWith('data:')).map(line => line.slice(5)).join('\n')
    return { event, data }
  })
}

describe('SIGTERM', () => {
  it('ends SSE after a final control event and long-polls with 204, finishes in-flight writes, then exits', async () => {
    const json = { 'content-type': 'application/json' }
    expect((await call(server, 'PUT', 'shutdown/log', { headers: json, body: '[{"n":0},{"n":1}]' })).status).toBe(201)
    const tail = (await call(server, 'HEAD', 'shutdown/log')).headers.get('stream-next-offset')!
    const session = await createSession(server)
    const sessionTail = await publish(server, session, { channel: 'terminal', data: { type: 'output', source: 'agent', data: 'before' } })

    // Readers: SSE on a raw stream and on the session stream (as the viewer reads it), long-polls at both tails.
    let sseUpToDate = false
    const sse = openLive(`${streamUrl(server, 'shutdown/log')}?offset=-1&live=sse`, (body) => { sseUpToDate = body.includes('"upToDate":true') })
    const sessionSse = openLive(`${streamUrl(server, `sessions/${session.id}`)}?offset=-1&live=sse`)
    const longPoll = openLive(`${streamUrl(server, 'shutdown/log')}?offset=${tail}&live=long-poll`)
    const sessionLongPoll = openLive(`${streamUrl(server, `sessions/${session.id}`)}?offset=${sessionTail}&live=long-poll`)
    await Promise.all([sse.opened, sessionSse.opened])
    for (let waited = 0; !sseUpToDate && waited < 5000; waited += 10) await new Promise(resolve => setTimeout(resolve, 10))

    // Writes in flight: slow chunked uploads, half sent before the signal, the rest after it.
    // `Expect: 100-continue` makes the server say when it has taken each request in hand.
    const expectContinue = { expect: '100-continue' }
    const protocolUpload = openRequest(server.url, '/v1/stream/shutdown/log', {
      method: 'POST',
      headers: { ...json, ...expectContinue, 'authorization': `Bearer ${server.token}`, 'producer-id': 'slow', 'producer-epoch': '0', 'producer-seq': '0' },
    })
    const sessionUpload = openRequest(server.url, `/api/sessions/${session.id}/events`, {
      method: 'POST',
      headers: { ...json, ...expectContinue, ...as('agent', session, server) },
    })
    const taken = Promise.all([protocolUpload, sessionUpload].map(upload => new Promise(resolve => upload.request.once('continue', resolve))))
    protocolUpload.request.write('[{"n":2},')
    sessionUpload.request.write('{"channel":"terminal","data":{"type":"output",')
    await taken

    const signalledAt = Date.now()
    const exited = server.stop()
    const [sseEnd, sessionSseEnd, pollEnd, sessionPollEnd] = await Promise.all([sse.ended, sessionSse.ended, longPoll.ended, sessionLongPoll.ended])

    // The live readers ended at once and cleanly, not by a reset and not after a timeout.
    for (const ended of [sseEnd, sessionSseEnd, pollEnd, sessionPollEnd]) {
      expect(ended.clean, 'ended with a complete response').toBe(true)
      expect(ended.endedAt - signalledAt).toBeLessThan(5000)
    }
    for (const [ended, next] of [[sseEnd, tail], [sessionSseEnd, sessionTail]] as const) {
      expect(ended.status).toBe(200)
      const events = sseEvents(ended.body)
      const last = events.at(-1)!
      expect(last.event, 'the last SSE event is a control event').toBe('control')
      const control = JSON.parse(last.data) as { streamNextOffset: string, upToDate?: boolean, streamCursor?: string }
      expect(control.streamNextOffset).toBe(next)
      expect(control.upToDate).toBe(true)
      expect(control.streamCursor).toBeTruthy()
    }
    for (const [ended, next] of [[pollEnd, tail], [sessionPollEnd, sessionTail]] as const) {
      expect(ended.status).toBe(204)
      expect(ended.headers['stream-next-offset']).toBe(next)
      expect(ended.headers['stream-up-to-date']).toBe('true')
      expect(ended.headers['stream-cursor']).toBeTruthy()
    }

    // Nothing new gets in while the process drains: the next process will take it.
    await expect(fetch(`${server.url}/api/health`)).rejects.toThrow()

    // The uploads complete after the signal and are acknowledged.
    protocolUpload.request.end('{"n":3}]')
    sessionUpload.request.end('"source":"agent","data":"in flight"}}')
    const [protocolAck, sessionAck] = await Promise.all([protocolUpload.response, sessionUpload.response])
    expect(protocolAck.status).toBe(200)
    expect(sessionAck.status).toBe(200)
    const sessionOffset = (JSON.parse(sessionAck.body.toString()) as { offset: string }).offset
    await exited

    // Acknowledged means durable: the next process has both writes, once.
    await server.restart()
    expect((await readAll(server, 'shutdown/log')).messages).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }])
    expect(protocolAck.headers['stream-next-offset']).toBe((await readAll(server, 'shutdown/log')).nextOffset)
    const terminal = (await snapshot(server, session.id)).state.terminal.map(entry => entry.data)
    expect(terminal).toEqual(['before', 'in flight'])
    expect((await snapshot(server, session.id)).offset).toBe(sessionOffset)
    // The producer's state survived with its data: resending seq 0 is a duplicate.
    const again = await call(server, 'POST', 'shutdown/log', { headers: { ...json, 'producer-id': 'slow', 'producer-epoch': '0', 'producer-seq': '0' }, body: '[{"n":2},{"n":3}]' })
    expect(again.status).toBe(204)
  })

  it.each(['sse', 'long-poll'] as const)('the official client (%s) resumes against the next process from its offset: no gap, no duplicate', async (live) => {
    const path = `shutdown/client-${live}`
    const json = { 'content-type': 'application/json' }
    expect((await call(server, 'PUT', path, { headers: json })).status).toBe(201)
    const append = async (from: number, to: number) => {
      const items = Array.from({ length: to - from }, (_, i) => ({ n: from + i }))
      expect((await call(server, 'POST', path, { headers: json, body: JSON.stringify(items) })).status).toBe(204)
    }
    await append(0, 20)

    const response = await stream<{ n: number }>({
      url: streamUrl(server, path),
      live,
      // A short pause between reconnect attempts while the next process starts.
      backoffOptions: { initialDelay: 50, maxDelay: 500, multiplier: 1.5 },
    })
    const received: number[] = []
    const errors: unknown[] = []
    response.subscribeJson((batch) => {
      received.push(...batch.items.map(item => item.n))
    })
    response.closed.catch((error: unknown) => errors.push(error))
    const until = async (count: number) => {
      for (let waited = 0; received.length < count; waited += 10) {
        if (waited > 20_000) throw new Error(`received ${received.length} of ${count} (${received.slice(-5).join(',')})`)
        await new Promise(resolve => setTimeout(resolve, 10))
      }
    }
    await until(20)
    await append(20, 40)
    await until(40)

    await server.restart() // SIGTERM, then a new process on the same port and data
    await append(40, 70)
    await until(70)
    await server.restart()
    await append(70, 100)
    await until(100)
    response.cancel()

    expect(errors).toEqual([])
    expect(received).toEqual(Array.from({ length: 100 }, (_, n) => n))
  })
})
