import { describe, expect, it } from 'vitest'
import { MAX_WEB_URL_LENGTH, safeWebUrl } from '../../lib/web-url'

describe('safeWebUrl: the one check for every URL from user or agent text', () => {
  it('keeps absolute http(s) URLs, normalised', () => {
    expect(safeWebUrl('https://example.com/a?b=1')).toBe('https://example.com/a?b=1')
    expect(safeWebUrl('https://a.test/x.png')).toBe('https://a.test/x.png')
    expect(safeWebUrl('HTTP://EXAMPLE.com')).toBe('http://example.com/')
    expect(safeWebUrl('  https://example.com/(a)  ')).toBe('https://example.com/(a)')
  })

  it('rejects every other scheme, relative and protocol-relative URLs, and overlong ones', () => {
    const bad = ['javascript:alert(1)', ' javascript:alert(1)', 'JaVaScRiPt:x', 'data:text/html,x', 'data:image/svg+xml,<svg onload=alert(1)>',
      'vbscript:x', '//evil.com', '/relative', '/a.png', 'mailto:a@b.c', 'https://', '', null, undefined, `https://a.test/${'x'.repeat(MAX_WEB_URL_LENGTH)}`]
    for (const url of bad) expect(safeWebUrl(url), String(url)).toBeNull()
  })
})
