import { describe, expect, it } from 'vitest'
import { earlierStart, followAfterScroll, isAtBottom, newerStart, tailWindow } from '../../lib/tail-window'

const metrics = (scrollTop: number) => ({ scrollTop, scrollHeight: 1000, clientHeight: 400 })

describe('follow rules', () => {
  it('counts the last few pixels as the bottom', () => {
    expect(isAtBottom(metrics(600))).toBe(true)
    expect(isAtBottom(metrics(580))).toBe(true)
    expect(isAtBottom(metrics(500))).toBe(false)
  })

  it('stops following only when the reader scrolls up', () => {
    // Content grew under a follower (scrollTop unchanged, no longer at the bottom): keep following.
    expect(followAfterScroll({ following: true, metrics: metrics(300), previousScrollTop: 300, showsNewest: true })).toBe(true)
    expect(followAfterScroll({ following: true, metrics: metrics(250), previousScrollTop: 300, showsNewest: true })).toBe(false)
    // A small nudge within the bottom threshold still follows.
    expect(followAfterScroll({ following: true, metrics: metrics(590), previousScrollTop: 600, showsNewest: true })).toBe(true)
  })

  it('resumes at the bottom only when the newest item is rendered', () => {
    expect(followAfterScroll({ following: false, metrics: metrics(600), previousScrollTop: 300, showsNewest: true })).toBe(true)
    expect(followAfterScroll({ following: false, metrics: metrics(600), previousScrollTop: 300, showsNewest: false })).toBe(false)
    expect(followAfterScroll({ following: false, metrics: metrics(400), previousScrollTop: 300, showsNewest: true })).toBe(false)
  })
})

describe('tailWindow', () => {
  it('shows the newest page while following', () => {
    expect(tailWindow(10_000, 50, null)).toEqual({ start: 9950, end: 10_000 })
    expect(tailWindow(10, 50, null)).toEqual({ start: 0, end: 10 })
  })

  it('holds a pinned start while items arrive, capped at maxRendered', () => {
    expect(tailWindow(1000, 50, 950)).toEqual({ start: 950, end: 1000 })
    expect(tailWindow(1010, 50, 950)).toEqual({ start: 950, end: 1010 })
    expect(tailWindow(2000, 50, 950)).toEqual({ start: 950, end: 1100 })
    expect(tailWindow(2000, 50, 950, 80)).toEqual({ start: 950, end: 1030 })
  })

  it('falls back to the tail when the list shrinks under a pinned start', () => {
    expect(tailWindow(20, 50, 950)).toEqual({ start: 0, end: 20 })
  })

  it('pages earlier and newer by pageSize', () => {
    expect(earlierStart({ start: 120, end: 170 }, 50)).toBe(70)
    expect(earlierStart({ start: 30, end: 80 }, 50)).toBe(0)
    expect(newerStart({ start: 100, end: 250 }, 1000, 50)).toBe(150)
    expect(newerStart({ start: 900, end: 1000 }, 1000, 50)).toBe(950)
  })
})
