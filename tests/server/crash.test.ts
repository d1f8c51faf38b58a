import { afterAll, expect, it } from 'vitest'
import { seededRandom } from '../support/random'
import { startServer } from '../support/server'
import type { TestServer } from '../support/server'
import { call, readAll, streamUrl } from '../support/streams'

/**
 * Appends acknowledged before kill -9 are all present, once, after restart.
 *
 * Concurrent writers append JSON batches to one stream until the server is SIGKILLed at a
 * moment drawn from a seeded plan; every 2xx is recorded as an acknowledgement. After the restart the stream
 * must hold every acknowledged message exactly once, each writer's messages in send order,
 * no message twice, and every batch whole or not at all. Idempotent producers then retry their
 * one unacknowledged batch with the same (epoch, seq): 204 if it had committed, 200 if not.
 * The whole cycle runs several times on the same data directory.
 */

const STREAM = 'crash/log'
const PLAIN_WRITERS = 3
const PRODUCER_WRITERS = 3
const CYCLES = 5
/** The server is killed once this many appends (all writers together) were acknowledged in a cycle. */
const MIN_ACKS = 200
const MAX_ACKS = 700
const REQUEST_TIMEOUT_MS = 10_000
/** Batch sizes, padding and kill points: a fixed, printed plan. */
const random = seededRandom('crash', 20_261_126)
/** Drawn before any batch, so the writers' concurrent draws cannot shift it. */
const KILL_AFTER = Array.from({ length: CYCLES }, () => MIN_ACKS + Math.floor(random() * (MAX_ACKS - MIN_ACKS)))

interface Message {
  w: string
  n: number
  id: string
  pad: string
}

interface Batch {
  ids: string[]
  body: string
  /** Producer batches only. */
  seq?: number
}

interface Writer {
  name: string
  producer: boolean
  nextN: number
  /** Producer state: epoch stays 0, seq counts batches. */
  nextSeq: number
  acked: Set<string>
  /** Plain writers' unacknowledged messages: present at most once, whole batch or nothing. */
  uncertain: Batch[]
  /** A producer's unacknowledged batch, retried after the restart. */
  inFlight?: Batch
  /** Stream-Next-Offset of the writer's last acknowledged batch in this cycle. */
  lastAck?: { batch: Batch, offset: string }
}

let server: TestServer | undefined
afterAll(() => server?.stop())

function newBatch(writer: Writer): Batch {
  const size = 1 + Math.floor(random() * 5)
  const messages: Message[] = []
  for (let i = 0; i < size; i++) {
    const n = writer.nextN++
    // Varying sizes so batches are not all alike on disk.
    messages.push({ w: writer.name, n, id: `${writer.name}:${n}`, pad: 'x'.repeat(Math.floor(random() * 200)) })
  }
  return { ids: messages.map(m => m.id), body: JSON.stringify(messages) }
}

/** One write phase: the shared ack count and the one kill that ends it. */
interface Phase {
  acks: number
  killAfter: number
  killing?: Promise<void>
  kill(): void
  unexpected: string[]
}

/**
 * Sends batches one after another until a request fails (the server was killed). The `victim`
 * plays the client whose acknowledgement is lost in the crash: once enough acks were counted,
 * it drops the 200 it has just received and orders the kill, so it holds a batch that *did*
 * commit without an ack — the case a crash makes possible but a kill -9 rarely hits by chance.
 */
async function runWriter(server: TestServer, writer: Writer, phase: Phase, victim: boolean): Promise<void> {
  for (;;) {
    const batch = newBatch(writer)
    const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${server.token}` }
    if (writer.producer) {
      batch.seq = writer.nextSeq
      Object.assign(headers, { 'producer-id': writer.name, 'producer-epoch': '0', 'producer-seq': String(batch.seq) })
    }
    let response: Response
    try {
      response = await fetch(streamUrl(server, STREAM), {
        method: 'POST',
        headers,
        body: batch.body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      })
      await response.arrayBuffer()
    }
    catch {
      // No answer: the batch may or may not have been committed.
      if (writer.producer) writer.inFlight = batch
      else writer.uncertain.push(batch)
      return
    }
    const expected = writer.producer ? 200 : 204
    if (response.status !== expected) {
      phase.unexpected.push(`${writer.name} batch ${batch.ids[0]}: ${response.status} instead of ${expected}`)
      phase.kill()
      return
    }
    if (victim && phase.acks >= phase.killAfter) {
      writer.inFlight = batch
      phase.kill()
      return
    }
    for (const id of batch.ids) writer.acked.add(id)
    writer.lastAck = { batch, offset: response.headers.get('stream-next-offset')! }
    if (writer.producer) writer.nextSeq++
    phase.acks++
  }
}

/** All writers append concurrently until the server is SIGKILLed after `killAfter` acks. */
async function writeUntilKilled(server: TestServer, writers: Writer[], victim: Writer, killAfter: number): Promise<Phase> {
  const phase: Phase = {
    acks: 0,
    killAfter,
    unexpected: [],
    kill() {
      phase.killing ??= server.kill()
    },
  }
  for (const writer of writers) writer.lastAck = undefined
  await Promise.all(writers.map(writer => runWriter(server, writer, phase, writer === victim)))
  await phase.killing
  expect(phase.unexpected).toEqual([])
  return phase
}

/** The invariants that must hold whenever the stream is read after a restart. */
function checkStream(messages: Message[], writers: Writer[], context: string): void {
  const count = new Map<string, number>()
  for (const message of messages) count.set(message.id, (count.get(message.id) ?? 0) + 1)
  const duplicates = [...count].filter(([, times]) => times > 1).map(([id]) => id)
  expect(duplicates, `${context}: messages stored more than once`).toEqual([])

  for (const writer of writers) {
    const missing = [...writer.acked].filter(id => !count.has(id))
    expect(missing, `${context}: acknowledged messages of ${writer.name} missing`).toEqual([])
    const order = messages.filter(m => m.w === writer.name).map(m => m.n)
    const outOfOrder = order.filter((n, i) => i > 0 && n <= order[i - 1]!)
    expect(outOfOrder, `${context}: ${writer.name}'s messages out of send order`).toEqual([])
    for (const batch of [...writer.uncertain, ...(writer.inFlight ? [writer.inFlight] : [])]) {
      const present = batch.ids.filter(id => count.has(id)).length
      expect([0, batch.ids.length], `${context}: ${writer.name}'s batch ${batch.ids[0]} is partly stored`).toContain(present)
    }
  }
  const sent = new Set(writers.flatMap(w => [...w.acked, ...w.uncertain.flatMap(b => b.ids), ...(w.inFlight?.ids ?? [])]))
  expect(messages.filter(m => !sent.has(m.id)).map(m => m.id), `${context}: messages nobody sent`).toEqual([])
}

async function readMessages(server: TestServer): Promise<Message[]> {
  const read = await readAll(server, STREAM)
  expect(read.status).toBe(200)
  return read.messages as Message[]
}

it('keeps every append acknowledged before kill -9, exactly once, across repeated crashes', async () => {
  server = await startServer()
  expect((await call(server, 'PUT', STREAM, { headers: { 'content-type': 'application/json' } })).status).toBe(201)
  const writers: Writer[] = [
    ...Array.from({ length: PLAIN_WRITERS }, (_, i) => ({ name: `plain-${i}`, producer: false })),
    ...Array.from({ length: PRODUCER_WRITERS }, (_, i) => ({ name: `producer-${i}`, producer: true })),
  ].map(w => ({ ...w, nextN: 0, nextSeq: 0, acked: new Set<string>(), uncertain: [] }))

  const producers = writers.filter(w => w.producer)
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const victim = producers[cycle % producers.length]!
    const phase = await writeUntilKilled(server, writers, victim, KILL_AFTER[cycle - 1]!)
    await server.restart()
    const context = `cycle ${cycle} (killed after ${phase.acks} acks)`
    const messages = await readMessages(server)
    checkStream(messages, writers, context)

    // An acknowledged Stream-Next-Offset still points just past its batch.
    for (const writer of writers) {
      if (!writer.lastAck) continue
      const rest = await readAll(server, STREAM, writer.lastAck.offset)
      const skipped = new Set(messages.slice(0, messages.length - rest.messages.length).map(m => m.id))
      expect(writer.lastAck.batch.ids.every(id => skipped.has(id)), `${context}: ${writer.name}'s last ack offset`).toBe(true)
      expect((rest.messages as Message[]).filter(m => m.w === writer.name && writer.acked.has(m.id)), context).toEqual([])
    }

    // Each producer retries its unacknowledged batch with the same (epoch, seq).
    const stored = new Set(messages.map(m => m.id))
    for (const writer of producers) {
      const batch = writer.inFlight!
      const committed = stored.has(batch.ids[0]!)
      const retry = await call(server, 'POST', STREAM, {
        headers: { 'content-type': 'application/json', 'producer-id': writer.name, 'producer-epoch': '0', 'producer-seq': String(batch.seq) },
        body: batch.body,
      })
      expect(retry.status, `${context}: retry of ${writer.name} seq ${batch.seq} (committed before the kill: ${committed})`)
        .toBe(committed ? 204 : 200)
      if (writer === victim) expect(retry.status, `${context}: retry of the batch whose ack was dropped`).toBe(204)
      for (const id of batch.ids) writer.acked.add(id)
      writer.inFlight = undefined
      writer.nextSeq++
    }
    checkStream(await readMessages(server), writers, `${context}, after the producer retries`)
  }

  const total = writers.reduce((sum, w) => sum + w.acked.size, 0)
  expect(total).toBeGreaterThan(CYCLES * MIN_ACKS)
}, 90_000)
