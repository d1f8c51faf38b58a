import { describe, expect, it } from 'vitest'
import { buildEmbedSnippet, withEmbedOptions } from '../../lib/embed-snippet'
import { secondsUntil, toEpochMs } from '../../lib/time'
import { formatTimestamp, initialsOf, prettyJson } from '../../utils/format'
import { parseSessionPanels } from '../../lib/session-panels'

describe('format helpers', () => {
  it('initials', () => {
    expect(initialsOf('Ada Lovelace')).toBe('AL')
    expect(initialsOf('grace')).toBe('GR')
    expect(initialsOf('jean-luc picard')).toBe('JP')
    expect(initialsOf('  ')).toBe('?')
    expect(initialsOf('Ada (you)')).toBe('AD')
  })

  it('countdown seconds', () => {
    expect(secondsUntil(10_000, 7_001)).toBe(3)
    expect(secondsUntil(10_000, 12_000)).toBe(0)
    expect(toEpochMs('2026-11-26T10:00:00Z')).toBe(Date.parse('2026-11-26T10:00:00Z'))
    expect(toEpochMs('nonsense')).toBeNull()
  })

  it('pretty JSON never throws', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(prettyJson(cyclic)).toBe('[unserialisable value]')
    expect(prettyJson(undefined)).toBe('—')
    expect(prettyJson({ a: [1] })).toBe('{\n  "a": [\n    1\n  ]\n}')
  })

  it('timestamps render identically on server and hydration (UTC)', () => {
    expect(formatTimestamp('2026-11-26T14:03:22Z', 'time', true)).toBe('14:03:22 UTC')
    expect(formatTimestamp('not a date')).toBe('not a date')
  })

  it('writes the UTC text as en-GB Intl does, without building a formatter in the browser', () => {
    const enGb = {
      time: new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZone: 'UTC' }),
      datetime: new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC' }),
    }
    for (let month = 0; month < 12; month++) {
      const date = new Date(Date.UTC(2026, month, month * 2 + 1, month * 2, month * 5, month))
      for (const format of ['time', 'datetime'] as const)
        expect(formatTimestamp(date.toISOString(), format, true)).toBe(`${enGb[format].format(date)} UTC`)
    }
    expect(formatTimestamp('2026-11-26T04:03:22Z', 'datetime', true)).toBe('26 Nov, 04:03 UTC')
  })
})

describe('embed snippet', () => {
  it('escapes attribute values so a title cannot inject markup into the host page', () => {
    const snippet = buildEmbedSnippet({ src: 'https://x.test/embed/sessions/1?a=1&b=2', title: '"><script>alert(1)</script>' })
    expect(snippet).not.toContain('<script>')
    expect(snippet).toContain('title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"')
    expect(snippet).toContain('src="https://x.test/embed/sessions/1?a=1&amp;b=2"')
  })

  it('adds panels and theme to relative and absolute URLs', () => {
    expect(withEmbedOptions('/embed/sessions/1', { panels: ['messages', 'terminal'], theme: 'light' })).toBe('/embed/sessions/1?panels=messages%2Cterminal&theme=light')
    expect(withEmbedOptions('https://x.test/embed/sessions/1?theme=dark', { panels: [], theme: null })).toBe('https://x.test/embed/sessions/1')
  })

  it('parses ?panels=', () => {
    expect(parseSessionPanels('terminal,messages,bogus')).toEqual(['messages', 'terminal'])
    expect(parseSessionPanels(['tools', 'approvals'])).toEqual(['tools', 'approvals'])
    expect(parseSessionPanels(undefined)).toEqual(['messages', 'terminal', 'tools', 'approvals'])
    expect(parseSessionPanels('nothing')).toEqual(['messages', 'terminal', 'tools', 'approvals'])
  })
})
