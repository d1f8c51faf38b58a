import { stream } from '@durable-streams/client'
import type { SessionEvent } from '../../../shared/sessions/channels'
import { sessionStreamPath, streamUrlPath } from '../../../shared/sessions/paths'
import { fromChange } from '../../../shared/sessions/wire'
import type { ChangeOperation } from '../../../shared/sessions/wire'
import { backoffDelay } from '../../../lib/backoff'
import type { BackoffSchedule } from '../../../lib/backoff'
import { DurableSessionsError, NetworkError, SessionNotFoundError } from './errors'
import type { Transport } from './http'

export interface FollowerContext {
  transport: Transport
  sessionId: string
  /** Where to start: an offset, or undefined for the stream's tail when following starts. */
  from?: string
  retry: BackoffSchedule
  onEvent?: (event: SessionEvent, operation: ChangeOperation) => void
  /** Every change message as it came, before onEvent (a reader that folds the session itself). */
  onMessage?: (message: unknown) => void
  /** After each batch: the offset everything before which has been delivered. */
  onOffset?: (offset: string) => void
  /** Default `long-poll`; `sse` for a reader that wants every token as it lands. */
  live?: 'long-poll' | 'sse'
  /** The session stream was closed: nothing more will come. */
  onClosed: () => void
  /** Following cannot go on (the session was deleted). */
  onFailure: (error: Error) => void
}

/**
 * Follows the session stream with long-polls, as any reader does, from an offset of its own:
 * after a dropped connection or a server restart it resumes exactly where the last delivered
 * batch ended, so every event reaches `onEvent` once. (Long-poll rather than SSE: one request
 * per wake-up is all steering needs, and it works through any fetch, including in-process ones;
 * a reader that shows every token asks for SSE.)
 */
export class SessionFollower {
  private offset?: string
  private stopped = false
  private controller?: AbortController
  private readonly started: Promise<void>
  private resolveStarted!: () => void
  /** The starting offset is known: events written from now on will be seen. */
  isReady = false

  constructor(private readonly context: FollowerContext) {
    this.offset = context.from
    this.started = new Promise(resolve => this.resolveStarted = resolve)
    void this.loop()
  }

  /** Resolves once the follower knows its starting offset (see isReady). */
  ready(): Promise<void> {
    return this.started
  }

  stop(): void {
    this.stopped = true
    this.controller?.abort()
    this.markStarted()
  }

  private markStarted(): void {
    this.isReady = true
    this.resolveStarted()
  }

  private get url(): string {
    return `${this.context.transport.server}${streamUrlPath(sessionStreamPath(this.context.sessionId))}`
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; !this.stopped;) {
      const controller = new AbortController()
      this.controller = controller
      try {
        this.offset ??= await this.tailOffset(controller.signal)
        this.markStarted()
        const response = await stream<unknown>({
          url: this.url,
          offset: this.offset,
          live: this.context.live ?? 'long-poll',
          json: true,
          signal: controller.signal,
          fetch: this.context.transport.fetch,
          warnOnHttp: false,
          // Retries are this loop's: it resumes from its own offset on its own schedule.
          backoffOptions: { ...this.context.retry, maxRetries: 0 },
        })
        attempt = 0
        let closed = false
        await new Promise<void>((resolve, reject) => {
          response.subscribeJson((batch) => {
            if (this.stopped) return
            for (const item of batch.items) {
              this.context.onMessage?.(item)
              const decoded = this.context.onEvent && fromChange(item)
              if (decoded) this.context.onEvent!(decoded.event, decoded.operation)
            }
            this.offset = batch.offset
            this.context.onOffset?.(batch.offset)
            if (batch.streamClosed) closed = true
          })
          response.closed.then(resolve, reject)
        })
        if (this.stopped) return
        if (closed || response.streamClosed) {
          this.stopped = true
          this.context.onClosed()
          return
        }
      }
      catch (error) {
        if (this.stopped) return
        const status = (error as { status?: number }).status
        if (status === 404 || status === 410) {
          this.stopped = true
          this.context.onFailure(new SessionNotFoundError(`Session ${this.context.sessionId} is gone (${status}): it was deleted or expired, so there is nothing more to follow`, status, 'not_found', this.context.sessionId))
          return
        }
        attempt++
        await new Promise(resolve => setTimeout(resolve, backoffDelay(attempt, this.context.retry)))
      }
      finally {
        controller.abort()
      }
    }
  }

  /** The stream's current tail (Stream-Next-Offset of a HEAD): following starts there. */
  private async tailOffset(signal: AbortSignal): Promise<string> {
    let response: Response
    try {
      response = await this.context.transport.fetch(this.url, { method: 'HEAD', signal })
    }
    catch (error) {
      throw new NetworkError(`Following session ${this.context.sessionId}: no answer (${(error as Error).message})`, 0, 'network', this.context.sessionId)
    }
    const offset = response.headers.get('stream-next-offset')
    if (!response.ok || !offset) throw new DurableSessionsError(`Following session ${this.context.sessionId}: HEAD answered ${response.status}`, response.status, undefined, this.context.sessionId)
    return offset
  }
}
