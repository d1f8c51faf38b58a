import { randomId } from '../random'
import { MAX_EVENT_TEXT, splitText } from '../session'
import type { AgentSession } from '../session'

export interface TerminalMirrorOptions {
  /** How long an unfinished line (a prompt, a progress bar) waits before it is shown anyway, in ms. Default 50. */
  partialLineDelayMs?: number
  /** Called once per stretch of output that was dropped because the queue was full. */
  onDrop?: (bytes: number) => void
}

/**
 * Mirrors a program's output into the session's terminal channel, one entry per line, which is
 * how the viewer shows terminal entries. Each entry is a line without its line ending (`\r\n`
 * from the PTY, or `\n`); other control characters and ANSI sequences are kept. A line that is
 * not finished yet (a prompt, a progress bar) is published after `partialLineDelayMs` and
 * completed in place later: the rest of the line is an update of the same entry (same id), so
 * the viewer never shows one line split in two. A line longer than 100,000 characters (the
 * channel's limit) continues in a new entry.
 *
 * Publishing never blocks: the session queues and batches the entries. When the session's queue
 * is full (the server has been unreachable for a while), new output is dropped rather than held,
 * and one marker entry says how much was lost; everything queued before stays and is sent.
 */
export class TerminalMirror {
  private partial = ''
  /** Set once the unfinished line has been published: its completion updates that entry. */
  private partialId?: string
  private publishedLength = 0
  private timer?: ReturnType<typeof setTimeout>
  private droppedBytes = 0
  private readonly partialLineDelayMs: number

  constructor(private readonly session: AgentSession, private readonly options: TerminalMirrorOptions = {}) {
    this.partialLineDelayMs = options.partialLineDelayMs ?? 50
  }

  write(chunk: string): void {
    let start = 0
    for (let newline = chunk.indexOf('\n'); newline !== -1; newline = chunk.indexOf('\n', start)) {
      this.append(chunk.slice(start, newline))
      this.finishLine()
      start = newline + 1
    }
    this.append(chunk.slice(start))
    this.schedulePartial()
  }

  /** Publishes what is left of an unfinished line (the program exited). */
  end(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (this.partial !== '') this.finishLine()
    if (this.droppedBytes > 0 && this.hasRoomFor(0)) this.publishDropMarker()
  }

  private append(text: string): void {
    if (text === '') return
    this.partial += text
    if (this.partial.length <= MAX_EVENT_TEXT) return
    // Too long for one entry: finished pieces go out, the rest stays the current line.
    const pieces = splitText(this.partial, MAX_EVENT_TEXT)
    this.partial = pieces.pop()!
    const continuation = this.partial
    for (const piece of pieces) {
      this.partial = piece
      this.finishLine(false)
    }
    this.partial = continuation
  }

  private finishLine(stripCarriageReturn = true): void {
    const line = stripCarriageReturn && this.partial.endsWith('\r') ? this.partial.slice(0, -1) : this.partial
    this.publish(this.partialId ?? randomId(), line)
    this.partial = ''
    this.partialId = undefined
    this.publishedLength = 0
  }

  private schedulePartial(): void {
    if (this.partial === '' || this.timer !== undefined) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.partial.length <= this.publishedLength) return
      this.partialId ??= randomId()
      this.publishedLength = this.partial.length
      this.publish(this.partialId, this.partial)
    }, this.partialLineDelayMs)
  }

  private publish(id: string, data: string): void {
    if (!this.hasRoomFor(data.length)) {
      if (this.droppedBytes === 0) this.options.onDrop?.(data.length)
      this.droppedBytes += data.length
      return
    }
    if (this.droppedBytes > 0) this.publishDropMarker()
    void this.session.publish('terminal', { id, type: 'output', source: 'agent', data }).catch(() => {})
  }

  /** Room in the session's queue without making publishing wait (JSON adds ~200 bytes of fields). */
  private hasRoomFor(textLength: number): boolean {
    return this.session.pending.bytes + textLength + 200 <= this.session.maxQueueBytes
  }

  private publishDropMarker(): void {
    void this.session.publish('terminal', {
      type: 'error',
      source: 'system',
      data: `[durable-sessions] ${formatBytes(this.droppedBytes)} of output not mirrored: the server was unreachable and the queue was full`,
    }).catch(() => {})
    this.droppedBytes = 0
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}
