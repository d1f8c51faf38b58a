import type { PreparedAppend } from './append-plan'
import type { AppendResult } from './store'

/** Most appends one transaction takes from a stream's queue, and most bytes. */
const MAX_BATCH_APPENDS = 256
const MAX_BATCH_BYTES = 8 * 1024 * 1024

interface Waiting {
  append: PreparedAppend
  resolve: (result: AppendResult) => void
  reject: (error: unknown) => void
}

/**
 * Group commit per stream: while one transaction appends to a stream, the appends that arrive
 * for it wait, and the next transaction takes them all, planned one after another — each with
 * its own offsets, answer or refusal, all committed (and fsynced) together. Appends to one
 * stream are serialised by its row lock anyway; on PostgreSQL a transaction holds that lock
 * across round trips and a commit, so one per append would cap a stream at a few thousand
 * appends per second. A stream's first append waits for the end of the event loop's current
 * I/O phase (setImmediate) before its transaction starts, so the requests that were read
 * together commit together too: SQLite commits without yielding, and would otherwise pay one
 * commit per append however many writers were waiting.
 */
export class AppendQueue {
  private readonly waiting = new Map<string, Waiting[]>()
  private readonly busy = new Set<string>()

  /** `commit` answers each append of a batch with its result or its own refusal. */
  constructor(private readonly commit: (path: string, appends: PreparedAppend[]) => Promise<Array<AppendResult | Error>>) {}

  push(path: string, append: PreparedAppend): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      const waiting: Waiting = { append, resolve, reject }
      if (this.busy.has(path)) {
        const queue = this.waiting.get(path)
        if (queue) queue.push(waiting)
        else this.waiting.set(path, [waiting])
        return
      }
      this.busy.add(path)
      this.waiting.set(path, [waiting])
      setImmediate(() => void this.run(path, this.takeBatch(path)))
    })
  }

  private async run(path: string, batch: Waiting[]): Promise<void> {
    try {
      const outcomes = await this.commit(path, batch.map(waiting => waiting.append))
      batch.forEach((waiting, i) => {
        const outcome = outcomes[i]!
        if (outcome instanceof Error) waiting.reject(outcome)
        else waiting.resolve(outcome)
      })
    }
    catch (error) {
      for (const waiting of batch) waiting.reject(error)
    }
    const next = this.takeBatch(path)
    if (next.length > 0) void this.run(path, next)
    else this.busy.delete(path)
  }

  private takeBatch(path: string): Waiting[] {
    const queue = this.waiting.get(path)
    if (!queue) return []
    let bytes = 0
    let count = 0
    while (count < queue.length && count < MAX_BATCH_APPENDS) {
      bytes += queue[count]!.append.options.body.length
      if (count > 0 && bytes > MAX_BATCH_BYTES) break
      count++
    }
    const batch = queue.splice(0, count)
    if (queue.length === 0) this.waiting.delete(path)
    return batch
  }
}
