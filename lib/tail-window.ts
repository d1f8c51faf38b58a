/**
 * The pure rules behind the viewer's long lists (messages, tool calls, terminal lines), which
 * show the newest items, follow new ones while the reader is at the bottom, and stop following
 * as soon as the reader scrolls up.
 *
 * Why a window over the tail rather than a virtual scroller: items have very different,
 * changing heights (markdown, code blocks, a message growing token by token), which makes a
 * virtual scroller's height estimates jump while it also fights the auto-scroll. Readers of a
 * live session look at the end; rendering the newest `pageSize` items and letting them page
 * back ("Show earlier") keeps the DOM bounded — ~pageSize while following, never more than
 * `maxRendered` — and scroll anchoring exact, with plain document flow.
 */

export interface ScrollMetrics {
  scrollTop: number
  scrollHeight: number
  clientHeight: number
}

/** Within this many pixels of the end counts as "at the bottom" (sub-pixel zoom, rounding). */
export const AT_BOTTOM_THRESHOLD_PX = 24

export function isAtBottom(metrics: ScrollMetrics, threshold = AT_BOTTOM_THRESHOLD_PX): boolean {
  return metrics.scrollHeight - metrics.scrollTop - metrics.clientHeight <= threshold
}

export interface FollowInput {
  following: boolean
  metrics: ScrollMetrics
  /** scrollTop at the previous scroll event. */
  previousScrollTop: number
  /** Whether the newest item is rendered (the window reaches the end of the list). */
  showsNewest: boolean
}

/**
 * Whether to keep following after a scroll event. Only a scroll *up* stops following: content
 * growing under a follower also leaves it short of the bottom for a moment, and must not.
 * Reaching the bottom again, with the newest item rendered, resumes following.
 */
export function followAfterScroll({ following, metrics, previousScrollTop, showsNewest }: FollowInput): boolean {
  if (showsNewest && isAtBottom(metrics)) return true
  if (metrics.scrollTop < previousScrollTop - 1) return false
  return following
}

export interface TailWindow {
  /** First rendered index (inclusive). */
  start: number
  /** Last rendered index (exclusive). */
  end: number
}

/**
 * The rendered slice. Following (`pinnedStart` null): the newest `pageSize`. Not following: from
 * the pinned start, so nothing moves under the reader while items arrive, capped at `maxRendered`.
 */
export function tailWindow(total: number, pageSize: number, pinnedStart: number | null, maxRendered = pageSize * 3): TailWindow {
  const newestPage = Math.max(0, total - pageSize)
  if (pinnedStart === null) return { start: newestPage, end: total }
  const start = Math.max(0, Math.min(pinnedStart, newestPage))
  return { start, end: Math.min(total, start + Math.max(pageSize, maxRendered)) }
}

/** The pinned start after "Show earlier". */
export function earlierStart(window: TailWindow, pageSize: number): number {
  return Math.max(0, window.start - pageSize)
}

/** The pinned start after "Show newer". */
export function newerStart(window: TailWindow, total: number, pageSize: number): number {
  return Math.min(window.start + pageSize, Math.max(0, total - pageSize))
}
