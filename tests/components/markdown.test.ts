// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import MarkdownContent from '../../components/session/MarkdownContent.vue'
import { parseInline, parseMarkdown, safeLinkHref } from '../../utils/markdown'

const render = (source: string) => mount(MarkdownContent, { props: { source } })

describe('markdown renderer: agent output can never become markup', () => {
  it('shows <script> and <img onerror> as literal text', () => {
    const source = 'Hi <script>alert(1)</script> and <img src=x onerror="alert(2)"> **bold <b>tag</b>**'
    const wrapper = render(source)
    expect(wrapper.find('script').exists()).toBe(false)
    expect(wrapper.find('img').exists()).toBe(false)
    expect(wrapper.find('b').exists()).toBe(false)
    expect(wrapper.text()).toContain('<script>alert(1)</script>')
    expect(wrapper.text()).toContain('<img src=x onerror="alert(2)">')
    expect(wrapper.find('strong').text()).toBe('bold <b>tag</b>')
    // The markup is present only in escaped form.
    expect(wrapper.html()).toContain('&lt;script&gt;')
    expect(wrapper.html()).not.toContain('<script')
  })

  it('keeps HTML inside code blocks and spans as text', () => {
    const wrapper = render('`<iframe src=x>`\n\n```html\n<script>steal()</script>\n```')
    expect(wrapper.find('iframe').exists()).toBe(false)
    expect(wrapper.find('script').exists()).toBe(false)
    expect(wrapper.find('code.md-inline-code').text()).toBe('<iframe src=x>')
    expect(wrapper.find('pre code').text()).toBe('<script>steal()</script>')
    expect(wrapper.find('pre code').attributes('data-lang')).toBe('html')
  })

  it('renders headings, paragraphs, emphasis, code and lists', () => {
    const wrapper = render([
      '# Plan',
      '',
      'First **strong** and *em* and _also em_ with `code`.',
      'Second line.',
      '',
      '- one',
      '- two',
      '  - nested',
      '',
      '3. three',
      '4. four',
      '',
      '> quoted',
      '',
      '---',
      '',
      '```ts',
      'const a = 1',
      '```',
    ].join('\n'))
    // `#` maps to h4: the page owns h1–h3.
    expect(wrapper.find('h4').text()).toBe('Plan')
    const paragraph = wrapper.find('p')
    expect(paragraph.find('strong').text()).toBe('strong')
    expect(paragraph.findAll('em').map(em => em.text())).toEqual(['em', 'also em'])
    expect(paragraph.find('code').text()).toBe('code')
    expect(paragraph.find('br').exists()).toBe(true)
    const bullet = wrapper.find('ul')
    expect(bullet.findAll(':scope > li').length).toBe(2)
    expect(bullet.find('li ul li').text()).toBe('nested')
    const ordered = wrapper.find('ol')
    expect(ordered.attributes('start')).toBe('3')
    expect(ordered.findAll('li').map(li => li.text())).toEqual(['three', 'four'])
    expect(wrapper.find('blockquote').text()).toBe('quoted')
    expect(wrapper.find('hr').exists()).toBe(true)
    expect(wrapper.find('pre code').text()).toBe('const a = 1')
  })

  it('does not treat snake_case or lone asterisks as emphasis', () => {
    const wrapper = render('call my_func_name with 2 * 3 * 4')
    expect(wrapper.find('em').exists()).toBe(false)
    expect(wrapper.text()).toBe('call my_func_name with 2 * 3 * 4')
  })

  it('renders an unclosed fence (mid-stream) as a code block', () => {
    const blocks = parseMarkdown('Look:\n```js\nconst x =')
    expect(blocks).toEqual([
      { type: 'paragraph', children: [{ type: 'text', text: 'Look:' }] },
      { type: 'code', lang: 'js', text: 'const x =' },
    ])
  })
})

describe('links', () => {
  it('links only absolute http(s) URLs, with rel noopener noreferrer nofollow', () => {
    const wrapper = render('[docs](https://vuejs.org/guide) [bad](javascript:alert(1)) [data](data:text/html,x) [rel](/local) see https://nuxt.com.')
    const links = wrapper.findAll('a')
    expect(links.map(link => link.attributes('href'))).toEqual(['https://vuejs.org/guide', 'https://nuxt.com/'])
    for (const link of links) {
      expect(link.attributes('rel')).toBe('noopener noreferrer nofollow')
      expect(link.attributes('target')).toBe('_blank')
    }
    // Unsafe links keep their label as plain text.
    expect(wrapper.text()).toContain('bad')
    expect(wrapper.text()).toContain('data')
    expect(wrapper.text()).not.toContain('javascript:')
    // Sentence punctuation stays out of an autolink.
    expect(links[1]!.text()).toBe('https://nuxt.com')
  })

  it('safeLinkHref rejects everything but http(s)', () => {
    expect(safeLinkHref('https://example.com/a?b=1')).toBe('https://example.com/a?b=1')
    expect(safeLinkHref('HTTP://EXAMPLE.com')).toBe('http://example.com/')
    for (const bad of ['javascript:alert(1)', ' javascript:alert(1)', 'JaVaScRiPt:x', 'data:text/html,x', 'vbscript:x', '//evil.com', '/relative', 'mailto:a@b.c', 'https://'])
      expect(safeLinkHref(bad)).toBeNull()
  })
})

describe('parser robustness', () => {
  it('stays fast on hostile input (no quadratic scans)', () => {
    const hostile = '*'.repeat(50_000) + '['.repeat(50_000) + '`'.repeat(20_000) + '_a'.repeat(20_000)
    const started = performance.now()
    parseMarkdown(hostile)
    parseInline('**a'.repeat(30_000))
    expect(performance.now() - started).toBeLessThan(1500)
  })

  it('bounds nesting depth', () => {
    const deep = `${'> '.repeat(5000)}deep`
    expect(() => parseMarkdown(deep)).not.toThrow()
    const list = Array.from({ length: 200 }, (_, i) => `${'  '.repeat(i)}- item ${i}`).join('\n')
    expect(() => parseMarkdown(list)).not.toThrow()
  })
})
