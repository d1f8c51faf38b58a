import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StreamMaterializer } from '../../server/sessions/materializer'
import type { StreamStore } from '../../server/streams/store'
import type { TerminalEntry } from '../../shared/sessions/channels'
import { WINDOW_SIZES, windowState } from '../../shared/sessions/window'
import { toChange } from '../../shared/sessions/wire'
import { openEngine } from '../support/stores'
import type { Backend, EngineUnderTest } from '../support/stores'

/**
 * What a session page render costs the store: the materialised session is kept and updated by
 * the store's announcements, so a render after one new event reads (at most) that event, never
 * the stream again from its start — on both backends.
 */

const JSON_TYPE = 'application/json'
const EVENTS = 10_000
const PATH = 'sessions/long'

const line = (n: number): TerminalEntry => ({ id: `line-${n}`, sessionId: 'long', type: 'output', source: 'agent', data: `line ${n}`, timestamp: '2026-01-01T00:00:00.000Z' })
const body = (from: number, count: number) => Buffer.from(JSON.stringify(Array.from({ length: count }, (_, i) => toChange({ channel: 'terminal', data: line(from + i) }, 'insert', '2026-01-01T00:00:00.000Z'))))

/** The store, counting the reads made through it and the bytes they returned. */
function counting(store: StreamStore) {
  const counts = { reads: 0, bytes: 0 }
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'read') {
        return async (...args: Parameters<StreamStore['read']>) => {
          const result = await target.read(...args)
          counts.reads++
          counts.bytes += result.chunks.reduce((sum, chunk) => sum + Buffer.byteLength(chunk), 0)
          return result
        }
      }
      const value = Reflect.get(target, property, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { store: proxy, counts }
}

describe.each<Backend>(['sqlite', 'postgres'])('the materialised session on %s', (backend) => {
  let engine: EngineUnderTest
  beforeAll(async () => {
    engine = await openEngine(backend)
    await engine.store.create(PATH, { closed: false, body: Buffer.alloc(0), contentType: JSON_TYPE })
    for (let at = 0; at < EVENTS; at += 500) await engine.store.append(PATH, { contentType: JSON_TYPE, body: body(at, 500), close: false })
  })
  afterAll(() => engine?.close())

  it('folds one new event in without reading the stream again', async () => {
    const { store, counts } = counting(engine.store)
    const materializer = new StreamMaterializer(store)
    const first = await materializer.get(PATH)
    expect(first.state.terminal).toHaveLength(EVENTS)
    const wholeStream = { ...counts }
    expect(wholeStream.bytes).toBeGreaterThan(EVENTS * 50)

    await engine.store.append(PATH, { contentType: JSON_TYPE, body: body(EVENTS, 1), close: false })
    const second = await materializer.get(PATH)
    expect(second.state.terminal).toHaveLength(EVENTS + 1)
    expect(second.state.terminal.at(-1)!.id).toBe(`line-${EVENTS}`)
    // The announcement brought the event (SQLite) or one read from the old tail fetched it (PostgreSQL).
    expect(counts.reads - wholeStream.reads).toBeLessThanOrEqual(1)
    expect(counts.bytes - wholeStream.bytes).toBeLessThan(1000)

    // And the page ships only its window of it.
    expect(windowState(second.state).state.terminal.map(entry => entry.id)).toEqual(second.state.terminal.slice(-WINDOW_SIZES.terminal).map(entry => entry.id))
    materializer.clear()
  })
})
