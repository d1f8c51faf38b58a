import { computed } from 'vue'
import type { ComputedRef, MaybeRefOrGetter } from 'vue'
import type { TerminalEntry } from '#layers/durable-sessions/shared/sessions/channels'
import type { SessionApiError } from '../transport/errors'
import type { LiveStatus } from '../transport/live-stream'
import type { SendResult, TerminalInputCallbacks } from '../sync/session-writes'
import { useSession } from './useSession'
import type { UseSessionOptions } from './useSession'

/** A terminal entry as the viewer shows it: optimistic input is `pending` until the stream confirms it. */
export interface TerminalLine extends TerminalEntry {
  pending?: boolean
}

export type UseTerminalOptions = UseSessionOptions

export interface UseTerminalReturn {
  /** Every entry in stream order, optimistic input included. */
  lines: ComputedRef<TerminalLine[]>
  /** The last 50 user inputs, newest first (for arrow-key recall). */
  inputHistory: ComputedRef<string[]>
  /** Sends user input (collaborator key or agent token needed); shows at once, rolls back if refused. */
  sendCommand: (input: string, callbacks?: TerminalInputCallbacks) => Promise<SendResult<TerminalEntry>>
  /** Why the latest command was rolled back, if it was. */
  error: ComputedRef<SessionApiError | null>
  status: ComputedRef<LiveStatus>
}

/** The session terminal: lines, input history and sending commands. */
export function useTerminal(sessionId: MaybeRefOrGetter<string>, options: UseTerminalOptions = {}): UseTerminalReturn {
  const session = useSession(sessionId, options)
  const pendingIds = computed(() => new Set(session.writes.value
    .filter(write => write.kind === 'terminal' && (write.status === 'pending' || write.status === 'retrying'))
    .map(write => write.entityId)))
  return {
    // Wrapping thousands of entries is costly; only a terminal with writes in flight needs it.
    lines: computed(() => pendingIds.value.size === 0
      ? session.terminal.value
      : session.terminal.value.map(entry => ({ ...entry, pending: pendingIds.value.has(entry.id) }))),
    inputHistory: computed(() => session.store.value.inputHistory),
    sendCommand: (input, callbacks) => session.sendInput(input, callbacks),
    error: computed(() => session.writes.value.findLast(write => write.kind === 'terminal' && write.status === 'failed')?.error ?? null),
    status: session.status,
  }
}
