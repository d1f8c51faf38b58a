import type { TestServer } from './server'
import { streamUrl } from './streams'

/**
 * An idempotent producer (PROTOCOL.md §5.2.1) that never gives up on a batch: every batch gets
 * the next Producer-Seq and is resent with that same seq until the server acknowledges it —
 * through resets, refused connections (server down), 503s (storage busy) and lost answers.
 * Resending is safe only because the server deduplicates by (producer, epoch, seq): a batch that
 * committed before its answer was lost comes back 204 and is not stored twice. Given several
 * servers (instances on one database), every request goes to the next one in turn, so a retry
 * usually lands on another instance than the try it repeats.
 */

export interface SendOutcome {
  /** 200: stored now; 204: the server already had it (a retry of a batch that had committed). */
  status: 200 | 204
  /** Requests this batch took (1 = first try). */
  attempts: number
  nextOffset: string
}

export interface ProducerCounters {
  batches: number
  /** Requests resent after a network error, a 503 or a dropped answer. */
  retries: number
  networkErrors: number
  unavailable: number
  /** Retries answered 204: the batch had committed before the producer learnt so. */
  duplicates: number
}

export class RetryingProducer {
  epoch = 0
  nextSeq = 0
  readonly counters: ProducerCounters = { batches: 0, retries: 0, networkErrors: 0, unavailable: 0, duplicates: 0 }
  private readonly servers: TestServer[]
  private turn = 0
  /** The server the latest request went to. */
  last?: TestServer

  constructor(
    server: TestServer | TestServer[],
    private readonly path: string,
    readonly id: string,
    private readonly options: { retryDelayMs?: number, requestTimeoutMs?: number, giveUpAfterMs?: number } = {},
  ) {
    this.servers = Array.isArray(server) ? server : [server]
  }

  /** The server the next request goes to. */
  get next(): TestServer {
    return this.servers[this.turn % this.servers.length]!
  }

  /**
   * Sends one JSON batch under the next seq until acknowledged. `dropAnswer` is asked after each
   * 2xx: when it returns true the answer is treated as lost (as if the connection died just
   * after the commit) and the same batch is sent again.
   */
  async send(body: string, dropAnswer: () => boolean | Promise<boolean> = () => false): Promise<SendOutcome> {
    const seq = this.nextSeq
    const deadline = Date.now() + (this.options.giveUpAfterMs ?? 60_000)
    for (let attempts = 1; ; attempts++) {
      if (attempts > 1) {
        this.counters.retries++
        if (Date.now() > deadline) throw new Error(`${this.id}: seq ${seq} still unacknowledged after ${attempts - 1} attempts`)
        await new Promise(resolve => setTimeout(resolve, this.options.retryDelayMs ?? 20))
      }
      let response: Response
      const server = this.next
      this.last = server
      this.turn++
      try {
        response = await fetch(streamUrl(server, this.path), {
          method: 'POST',
          headers: {
            'authorization': `Bearer ${server.token}`,
            'content-type': 'application/json',
            'producer-id': this.id,
            'producer-epoch': String(this.epoch),
            'producer-seq': String(seq),
          },
          body,
          signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000),
        })
        await response.arrayBuffer()
      }
      catch {
        this.counters.networkErrors++
        continue
      }
      if (response.status === 503) {
        this.counters.unavailable++
        continue
      }
      if (response.status !== 200 && response.status !== 204)
        throw new Error(`${this.id}: seq ${seq} answered ${response.status} (attempt ${attempts})`)
      if (await dropAnswer()) continue
      if (response.status === 204 && attempts > 1) this.counters.duplicates++
      this.nextSeq++
      this.counters.batches++
      return { status: response.status, attempts, nextOffset: response.headers.get('stream-next-offset')! }
    }
  }
}
