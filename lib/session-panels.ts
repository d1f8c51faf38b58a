import type { TerminalEntry } from '#layers/durable-sessions/shared/sessions/channels'

/** View-model types the viewer components take as props (the page maps store state onto them). */

/** State of the live connection to the session stream. */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'closed' | 'error'

/** A terminal line as the viewer shows it: optimistic input is `pending` until the stream confirms it. */
export type TerminalLineView = TerminalEntry & {
  pending?: boolean
  /** Set when an optimistic write was rolled back: the line stays, marked, with this reason. */
  error?: string | null
}

/** Panels the viewer can show; the embed route picks a subset with `?panels=`. */
export const SESSION_PANELS = ['messages', 'terminal', 'tools', 'approvals'] as const
export type SessionPanel = (typeof SESSION_PANELS)[number]

/** Parses `?panels=messages,terminal` (unknown names dropped; empty or absent → all panels). */
export function parseSessionPanels(value: unknown): SessionPanel[] {
  const raw = Array.isArray(value) ? value.join(',') : typeof value === 'string' ? value : ''
  const wanted = new Set(raw.split(',').map(part => part.trim().toLowerCase()))
  const panels = SESSION_PANELS.filter(panel => wanted.has(panel))
  return panels.length ? panels : [...SESSION_PANELS]
}
