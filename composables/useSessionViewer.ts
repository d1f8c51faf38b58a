import { useEventListener } from '@vueuse/core'
import { computed, onMounted, shallowRef } from 'vue'
import type { ComputedRef } from 'vue'
import { createError, useRequestURL } from '#imports'
import type { AgentState, Presence, Prompt, ToolCall, WorkflowEvent } from '#layers/durable-sessions/shared/sessions/channels'
import { chatPagePath, embedPagePath, sessionPagePath } from '#layers/durable-sessions/shared/sessions/paths'
import type { AgentMessage, ConversationEntry } from '#layers/durable-sessions/shared/sessions/reducer'
import { HISTORY_LISTS } from '#layers/durable-sessions/shared/sessions/window'
import type { HistoryList, SessionHistory } from '#layers/durable-sessions/shared/sessions/window'
import { useSessionStore } from '../stores/session'
import { toSessionApiError } from '../transport/errors'
import type { LiveStatus } from '../transport/live-stream'
import { fetchSnapshot } from '../transport/session-api'
import { collaboratorKeyFor, heldCredentials } from '../transport/session-credentials'
import { usePresence } from './usePresence'
import { useSession } from './useSession'
import { useSessionApiOptions } from './useSessionApiOptions'
import { useTerminal } from './useTerminal'
import type { TerminalLine } from './useTerminal'

export interface UseSessionViewerOptions {
  /** Join presence and share this user's cursor (the app page). Default true; embeds only watch. */
  presence?: boolean
  /**
   * Offer writes (terminal input, approval decisions) when this browser holds a credential for
   * the session. Default true; an embed only when its server render allowed it.
   */
  interactive?: boolean
}

/** Everything SessionViewerLayout is fed, in its prop names. */
export interface SessionViewerProps {
  title: string
  connectionState: LiveStatus
  nextRetryAt: number | null
  agentStates: AgentState[]
  participants: Presence[]
  selfId: string | null
  viewerUrl: string
  collaborateUrl: string | null
  embedUrl: string
  /** The session's conversation as an AI SDK Chat page. */
  chatUrl: string
  canCollaborate: boolean
  messages: AgentMessage[]
  prompts: Prompt[]
  conversation: ConversationEntry[]
  /** Why the latest prompt was rolled back. */
  promptError: string | null
  toolCalls: ToolCall[]
  terminalLines: TerminalLine[]
  inputHistory: string[]
  terminalError: string | null
  workflow: WorkflowEvent[]
  /** Items of each list still on the server before the oldest one held (scrolling up loads them). */
  earlier: Record<HistoryList, number>
  loadingEarlier: ReadonlySet<HistoryList>
}

export interface UseSessionViewerReturn {
  props: ComputedRef<SessionViewerProps>
  onTerminalSubmit: (text: string) => void
  onPromptSubmit: (text: string) => void
  onApprove: (requestId: string, reason?: string) => void
  onReject: (requestId: string, reason?: string) => void
  onReconnect: () => void
  onLoadEarlier: (list: HistoryList) => void
}

function earlierCounts(history: SessionHistory | null): Record<HistoryList, number> {
  return Object.fromEntries(HISTORY_LISTS.map(list => [list, history?.[list].before ? Math.max(1, history[list].remaining) : 0])) as Record<HistoryList, number>
}

/** The statusMessage of loadSession's 404, by which an error page tells a missing session from a missing page. */
export const SESSION_NOT_FOUND = 'Session not found'

/**
 * Loads a session for rendering: on the server (and on client-side navigation) from its
 * snapshot; after SSR, the store arrives hydrated in Pinia's payload — offsets included — and
 * nothing is fetched again. Throws a 404 for an unknown session.
 */
export async function loadSession(sessionId: string): Promise<void> {
  const store = useSessionStore(sessionId)
  if (store.hydrated) return
  const options = useSessionApiOptions()
  try {
    store.hydrate(await fetchSnapshot(sessionId, options))
  }
  catch (error) {
    const notFound = toSessionApiError(error).status === 404
    throw createError({ statusCode: notFound ? 404 : 502, statusMessage: notFound ? SESSION_NOT_FOUND : 'Session unavailable', fatal: true })
  }
}

/**
 * The session viewer's wiring: the session store and its live subscription mapped onto
 * SessionViewerLayout's props, and its events onto optimistic writes.
 */
export function useSessionViewer(sessionId: string, options: UseSessionViewerOptions = {}): UseSessionViewerReturn {
  const { presence: joinPresence = true, interactive = true } = options
  const session = useSession(sessionId)
  const terminal = useTerminal(sessionId)
  const presence = joinPresence ? usePresence(sessionId) : undefined
  const origin = useRequestURL().origin
  const viewerUrl = `${origin}${sessionPagePath(sessionId)}`

  // Credentials live in this browser's storage: read once mounted, so the server render and the
  // hydrating render agree (both as a viewer) and collaborator controls appear right after.
  const credentials = shallowRef({ canCollaborate: false, collaboratorKey: undefined as string | undefined })
  onMounted(() => {
    credentials.value = { canCollaborate: interactive && heldCredentials(sessionId).canCollaborate, collaboratorKey: collaboratorKeyFor(sessionId) }
  })

  const promptError = shallowRef<string | null>(null)

  if (presence) useEventListener('pointermove', (event: PointerEvent) => presence.updateCursor(event.pageX, event.pageY), { passive: true })

  const props = computed<SessionViewerProps>(() => ({
    title: session.store.value.session?.title ?? 'Session',
    connectionState: session.status.value,
    nextRetryAt: session.nextRetryAt.value,
    agentStates: Object.values(session.agentState.value),
    participants: presence?.participants.value ?? session.participants.value,
    selfId: session.user.value.userId || null,
    viewerUrl,
    collaborateUrl: credentials.value.collaboratorKey ? `${viewerUrl}?key=${encodeURIComponent(credentials.value.collaboratorKey)}` : null,
    embedUrl: embedPagePath(sessionId),
    chatUrl: chatPagePath(sessionId),
    canCollaborate: credentials.value.canCollaborate,
    messages: session.messages.value,
    prompts: session.prompts.value,
    conversation: session.conversation.value,
    promptError: promptError.value,
    toolCalls: session.toolCalls.value,
    terminalLines: terminal.lines.value,
    inputHistory: terminal.inputHistory.value,
    terminalError: terminal.error.value?.message ?? null,
    workflow: session.workflow.value,
    earlier: earlierCounts(session.history.value),
    loadingEarlier: session.loadingEarlier.value,
  }))

  // A read-only viewer offers no writes; it does not send any either.
  const ifInteractive = <A extends unknown[]>(write: (...args: A) => void) => (...args: A) => {
    if (interactive) write(...args)
  }
  return {
    props,
    onTerminalSubmit: ifInteractive(text => void terminal.sendCommand(text)),
    onPromptSubmit: ifInteractive((text: string) => {
      promptError.value = null
      void session.ask(text, { onRollback: (_, error) => (promptError.value = error.message) })
    }),
    onApprove: ifInteractive((requestId: string, reason?: string) => void session.approve(requestId, reason)),
    onReject: ifInteractive((requestId: string, reason?: string) => void session.reject(requestId, reason)),
    onReconnect: () => session.retryNow(),
    onLoadEarlier: list => void session.loadEarlier(list),
  }
}
