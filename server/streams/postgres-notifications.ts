import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import type { Sql } from 'postgres'
import type { StreamChange } from './store'

/**
 * Commits announced across instances with PostgreSQL's LISTEN/NOTIFY. A transaction that
 * changes a stream notifies (delivered only if it commits, in commit order) with the stream id,
 * the positions, and the data when the whole payload fits in NOTIFY's 8000 bytes; readers read
 * the rest from the database. Each instance holds one LISTEN connection; losing it loses
 * notifications, so after every reconnect `resync` re-checks the streams readers wait on.
 */

export const NOTIFY_CHANNEL = 'durable_streams'
/** NOTIFY refuses payloads of 8000 bytes or more; leave room for the header line. */
const MAX_PAYLOAD_BYTES = 7900
const RECONNECT_DELAYS_MS = [50, 100, 250, 500, 1000, 2000]

/** A name for one instance, so that it can ignore its own notifications (it told its readers at commit). */
export function newInstanceId(): string {
  return randomBytes(6).toString('base64url')
}

/**
 * The payload for a change: `<instance> <stream id> <from> <to> <flags>` and, after a line
 * break, the data — a JSON stream's messages as they are stored (UTF-8 text), other streams'
 * bytes in base64. Flags: c closed, r removed, t trimmed, j / b data follows as JSON / base64.
 */
export function encodeNotification(instance: string, change: StreamChange, json: boolean): string {
  let flags = `${change.closed ? 'c' : ''}${change.removed ? 'r' : ''}${change.trimmed ? 't' : ''}`
  const header = `${instance} ${change.streamId} ${change.fromPos} ${change.toPos} `
  if (!change.chunks || change.toPos === change.fromPos) return `${header}${flags || '-'}`
  const bytes = change.chunks.reduce((sum, chunk) => sum + Buffer.byteLength(chunk), 0)
  // Base64 grows by a third; too big either way means the readers query instead.
  if ((json ? bytes : Math.ceil(bytes / 3) * 4) + header.length + 8 > MAX_PAYLOAD_BYTES) return `${header}${flags || '-'}`
  flags += json ? 'j' : 'b'
  const data = json
    ? change.chunks.map(chunk => chunk.toString()).join(',')
    : Buffer.concat(change.chunks.map(chunk => Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))).toString('base64')
  return `${header}${flags}\n${data}`
}

/** A notification from another instance as a change; undefined for one of `self`'s own or a malformed one. */
export function decodeNotification(self: string, payload: string): StreamChange | undefined {
  const newline = payload.indexOf('\n')
  const [instance, streamId, fromPos, toPos, flags = ''] = (newline < 0 ? payload : payload.slice(0, newline)).split(' ')
  if (instance === self || toPos === undefined) return undefined
  const change: StreamChange = {
    streamId: Number(streamId),
    fromPos: Number(fromPos),
    toPos: Number(toPos),
    closed: flags.includes('c'),
    removed: flags.includes('r'),
  }
  if (flags.includes('t')) change.trimmed = true
  const data = newline < 0 ? undefined : payload.slice(newline + 1)
  if (data !== undefined && flags.includes('j')) change.chunks = [data]
  if (data !== undefined && flags.includes('b')) change.chunks = [Buffer.from(data, 'base64')]
  return change
}

export interface NotificationHandlers {
  change: (change: StreamChange) => void
  /** Notifications may have been missed (the connection was lost): re-check every stream. */
  resync: () => void
}

/** The one LISTEN connection of this instance, reconnecting (with backoff) whenever it is lost. */
export class PostgresNotifications {
  private readonly sql: Sql
  private stopped = false
  private reconnecting = false
  /** Resolves once the first LISTEN is in place. */
  readonly ready: Promise<void>

  constructor(url: string, instance: string, private readonly handlers: NotificationHandlers) {
    // `onnotify` is postgres.js's own option (its sql.listen is built on it) but missing from its
    // types. sql.listen itself is not used: it gives up re-listening if its first try fails.
    const options: postgres.Options<Record<string, never>> & { onnotify: (channel: string, payload: string) => void } = {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      onnotice: () => {},
      // Names the process and instance, so an operator (or a test) can find this connection.
      connection: { application_name: `durable-sessions listen ${process.pid} ${instance}` },
      onnotify: (channel, payload) => {
        if (channel !== NOTIFY_CHANNEL) return
        const change = decodeNotification(instance, payload)
        if (change) handlers.change(change)
      },
      onclose: () => this.reconnect(),
    }
    this.sql = postgres(url, options)
    this.ready = this.listen()
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.sql.end({ timeout: 1 })
  }

  private async listen(): Promise<void> {
    await this.sql`listen ${this.sql(NOTIFY_CHANNEL)}`
  }

  /** LISTENs again until it works, then has every watched stream re-checked. */
  private reconnect(): void {
    if (this.stopped || this.reconnecting) return
    this.reconnecting = true
    void (async () => {
      for (let attempt = 0; !this.stopped; attempt++) {
        try {
          await this.listen()
          this.reconnecting = false
          this.handlers.resync()
          return
        }
        catch {
          await new Promise(resolve => setTimeout(resolve, RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)]))
        }
      }
    })()
  }
}
