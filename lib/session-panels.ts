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
