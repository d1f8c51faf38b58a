/**
 * Shell-style ↑/↓ through previous inputs. `index` -1 means the reader is editing their own
 * draft, which is kept aside while they browse and restored when they come back down.
 */
export interface HistoryCursor {
  index: number
  value: string
  /** The unsent text from before browsing started. */
  draft: string
}

export function startHistory(value = ''): HistoryCursor {
  return { index: -1, value, draft: value }
}

/** `history` is newest first. Returns null when the key does nothing (let the input handle it). */
export function moveInHistory(cursor: HistoryCursor, direction: 'older' | 'newer', history: readonly string[]): HistoryCursor | null {
  if (direction === 'older') {
    if (cursor.index + 1 >= history.length) return null
    const draft = cursor.index === -1 ? cursor.value : cursor.draft
    const index = cursor.index + 1
    return { index, value: history[index]!, draft }
  }
  if (cursor.index === -1) return null
  const index = cursor.index - 1
  return { index, value: index === -1 ? cursor.draft : history[index]!, draft: cursor.draft }
}
