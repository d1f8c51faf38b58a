import { isClient, tryOnScopeDispose } from '@vueuse/core'
import { computed, shallowRef, toValue, watch } from 'vue'
import type { ComputedRef, MaybeRefOrGetter } from 'vue'
import type { AgentStatus, ToolCall } from '#layers/durable-sessions/shared/sessions/channels'
import { acquireAgent } from '../sync/agent-feed'
import { createAgentFeedState } from '../lib/agent-fold'
import type { AgentFeedOptions, AgentHandle } from '../sync/agent-feed'
import type { SessionApiError } from '../transport/errors'
import type { LiveStatus } from '../transport/live-stream'

export type UseAgentStreamOptions = AgentFeedOptions

export interface UseAgentStreamReturn {
  /** The agent's status; `unknown` before its first state event (and during SSR). */
  status: ComputedRef<AgentStatus | 'unknown'>
  /** Text of the current turn so far. */
  streaming: ComputedRef<string>
  tools: ComputedRef<ToolCall[]>
  turn: ComputedRef<number | null>
  progress: ComputedRef<number | null>
  message: ComputedRef<string | null>
  /** The agent's own error report. */
  error: ComputedRef<string | null>
  currentTool: ComputedRef<string | null>
  /** Session of the latest event: the agent may move between sessions. */
  sessionId: ComputedRef<string | null>
  /** The feed's connection. */
  connection: ComputedRef<LiveStatus>
  connectionError: ComputedRef<SessionApiError | null>
  nextRetryAt: ComputedRef<number | null>
  clearStreaming: () => void
}

/** What fills the refs where nothing is read (SSR): a feed that has seen nothing. */
const EMPTY = createAgentFeedState()

/** One agent followed across all its sessions through `agents/<agentId>`, shared per tab. */
export function useAgentStream(agentId: MaybeRefOrGetter<string>, options: UseAgentStreamOptions = {}): UseAgentStreamReturn {
  const handle = shallowRef<AgentHandle>()
  if (isClient) {
    watch(() => toValue(agentId), (current) => {
      handle.value?.release()
      handle.value = acquireAgent(current, options)
    }, { immediate: true })
    tryOnScopeDispose(() => {
      handle.value?.release()
      handle.value = undefined
    })
  }
  const state = computed(() => handle.value?.feed.state ?? EMPTY)
  const live = computed(() => handle.value?.feed.live)
  return {
    status: computed(() => state.value.status),
    streaming: computed(() => state.value.streaming),
    tools: computed(() => state.value.tools),
    turn: computed(() => state.value.turn),
    progress: computed(() => state.value.progress),
    message: computed(() => state.value.message),
    error: computed(() => state.value.error),
    currentTool: computed(() => state.value.currentTool),
    sessionId: computed(() => state.value.sessionId),
    connection: computed(() => live.value?.status.value ?? 'connecting'),
    connectionError: computed(() => live.value?.lastError.value ?? null),
    nextRetryAt: computed(() => live.value?.nextRetryAt.value ?? null),
    clearStreaming: () => handle.value?.feed.clearStreaming(),
  }
}
