import { afterAll, expect, it } from 'vitest'
import { startCluster } from '../support/cluster'
import type { Cluster } from '../support/cluster'
import { StreamFollower } from '../support/follow'
import type { FollowMode } from '../support/follow'
import { numberedBatch, planKills, sequenceProblems } from '../support/crash-plan'
import type { NumberedMessage } from '../support/crash-plan'
import { RetryingProducer } from '../support/producer'
import { seededRandom } from '../support/random'
import type { TestServer } from '../support/server'
import { call, readAll, streamUrl } from '../support/streams'

/**
 * An idempotent producer writing through two instances on one PostgreSQL database — each request
 * to the other instance than the last — while the instance it is writing to is killed with
 * SIGKILL and restarted, at moments drawn from a seeded plan. Every third kill comes just after
 * a commit whose answer is dropped, so the retry reaches the *other* instance, which must know
 * from the shared producer state that the batch is already stored. In the end every
 * acknowledged message is in the stream exactly once, in order, and live readers on both
 * instances (SSE on one, long-poll on the other) followed all of it across the crashes.
 */

const MESSAGES = Number(process.env.CLUSTER_CRASH_MESSAGES ?? 10_000)
const KILLS = Number(process.env.CLUSTER_CRASH_KILLS ?? 6)
const MAX_BATCH = 50
const STREAM = 'cluster/idempotent-producer'
const random = seededRandom('cluster-crash', 20_261_129)

let cluster: Cluster | undefined
const followers: StreamFollower[] = []
afterAll(async () => {
  for (const follower of followers) follower.stop()
  await cluster?.stop()
})

const gaps = (ns: number[]) => sequenceProblems(ns, MESSAGES)

it(`a producer alternating between two instances writes ${MESSAGES} messages exactly once, in order, across ${KILLS} kill -9s of the instance it writes to`, async () => {
  const started = Date.now()
  cluster = await startCluster(2, { env: { NUXT_DURABLE_SESSIONS_SEED_DEMO: 'false' } })
  const [a, b] = cluster.servers as [TestServer, TestServer]
  expect((await call(a, 'PUT', STREAM, { headers: { 'content-type': 'application/json' } })).status).toBe(201)

  const follow = (server: TestServer, mode: FollowMode, received: number[]) => {
    const follower = new StreamFollower(streamUrl(server, STREAM), { mode, offset: '-1', retryDelayMs: 30, onBatch: items => received.push(...(items as NumberedMessage[]).map(m => m.n)) })
    followers.push(follower)
    return follower.start()
  }
  const viaSse: number[] = []
  const viaLongPoll: number[] = []
  const sse = follow(a, 'sse', viaSse)
  const longPoll = follow(b, 'long-poll', viaLongPoll)

  const producer = new RetryingProducer([a, b], STREAM, 'cluster-producer')
  const kills = planKills(random, MESSAGES, KILLS)
  let killsDone = 0
  let bouncing: Promise<void> | undefined
  const bounce = (server: TestServer, delayMs: number) => {
    bouncing ??= (async () => {
      await new Promise(resolve => setTimeout(resolve, delayMs))
      await server.kill()
      killsDone++
      await server.restart()
      bouncing = undefined
    })()
    return bouncing
  }

  let acked = 0
  let lostAnswers = 0
  let crossInstanceDuplicates = 0
  let sentBatches = 0
  while (acked < MESSAGES) {
    const batch = numberedBatch(random, acked, MESSAGES - acked, MAX_BATCH)
    const size = batch.length
    if (kills[0] && acked >= kills[0].at) await bouncing
    const due = kills[0] && acked >= kills[0].at ? kills.shift()! : undefined
    // A random moment while this batch goes to the instance it is writing to.
    if (due && !due.dropAnswer) void bounce(producer.next, random() * 8)
    let dropped = false
    const outcome = await producer.send(JSON.stringify(batch), async () => {
      if (!due?.dropAnswer || dropped) return false
      // The worst moment: committed, the producer never hears of it, and asks the other instance.
      dropped = true
      lostAnswers++
      await bounce(producer.last!, 0)
      return true
    })
    if (dropped) {
      expect(outcome.status, `seq ${producer.nextSeq - 1}: the other instance knows the batch is stored`).toBe(204)
      crossInstanceDuplicates++
    }
    acked += size
    sentBatches++
  }
  await bouncing
  expect(killsDone).toBe(KILLS)

  for (const server of [a, b]) {
    const all = await readAll(server, STREAM)
    expect(gaps((all.messages as NumberedMessage[]).map(m => m.n)), `the stream read from ${server.url}`).toEqual([])
  }
  const tail = (await readAll(a, STREAM)).nextOffset
  await sse.until(() => sse.offset === tail, 'the SSE reader (instance A) reached the tail', 60_000)
  await longPoll.until(() => longPoll.offset === tail, 'the long-poll reader (instance B) reached the tail', 60_000)
  for (const follower of followers) follower.stop()
  expect(sse.failures).toEqual([])
  expect(longPoll.failures).toEqual([])
  expect(gaps(viaSse), 'SSE reader').toEqual([])
  expect(gaps(viaLongPoll), 'long-poll reader').toEqual([])
  expect(crossInstanceDuplicates).toBeGreaterThan(0)
  console.info(`[cluster-crash] ${MESSAGES} messages in ${sentBatches} batches through 2 instances, ${killsDone} kill -9s (${lostAnswers} right after a commit, `
    + `retried on the other instance: 204 each); producer: ${producer.counters.retries} retries, ${producer.counters.networkErrors} network errors, `
    + `${producer.counters.unavailable} 503s; stored ${MESSAGES} once each, in order; SSE reader ${viaSse.length} over ${sse.reconnects} reconnects, `
    + `long-poll reader ${viaLongPoll.length} over ${longPoll.reconnects}; ${((Date.now() - started) / 1000).toFixed(1)} s`)
}, 240_000)
