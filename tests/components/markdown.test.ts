// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import MarkdownContent from '../../components/session/MarkdownContent.vue'
import { LINK_REL } from '../../components/session/markdown-render'
import { fromMarkdown } from 'mdast-util-from-markdown'
import { createMarkdownParser, createSectionSplitter, parseMarkdown, parseMarkdownSection, SECTION_MIN_LENGTH, splitMarkdownSections } from '../../lib/markdown'
import { agentMessage } from '../support/hostile-inputs'

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
    // A single newline is a line break: kept in the text, shown by `white-space: pre-line`.
    expect(paragraph.element.textContent).toContain('code.\nSecond line.')
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
    const wrapper = render('Look:\n```js\nconst x =')
    expect(wrapper.find('p').text()).toBe('Look:')
    expect(wrapper.find('pre code').text()).toBe('const x =')
    expect(wrapper.find('pre code').classes()).toEqual(['language-js'])
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
})


describe('GitHub Flavored Markdown, as agents write it', () => {
  const sample = [
    '| File | Lines | Status |',
    '|:-----|------:|:------:|',
    '| `stores/session.ts` | 120 | **done** |',
    '| utils/ansi.ts | 98 | ~~todo~~ |',
    '',
    '- [x] parse with micromark',
    '- [ ] ship it',
    '',
    'This is ***very* important** and ~~obsolete~~, see https://vuejs.org/guide. or [the page](https://en.wikipedia.org/wiki/Vue_(framework)).',
    '',
    '```ts title="a.ts"',
    'const ok = a * b < c',
    '```',
  ].join('\n')

  it('renders a table with its header, body and column alignment', () => {
    const table = render(sample).get('table')
    expect(table.findAll('thead th').map(th => th.text())).toEqual(['File', 'Lines', 'Status'])
    expect(table.findAll('thead th').map(th => th.attributes('style') ?? '')).toEqual(['text-align: left;', 'text-align: right;', 'text-align: center;'])
    const rows = table.findAll('tbody tr')
    expect(rows.map(row => row.findAll('td').map(td => td.text()))).toEqual([['stores/session.ts', '120', 'done'], ['utils/ansi.ts', '98', 'todo']])
    expect(rows[0]!.find('td code').text()).toBe('stores/session.ts')
    expect(rows[0]!.find('td strong').text()).toBe('done')
    expect(rows[1]!.find('td del').text()).toBe('todo')
  })

  it('renders task items as disabled, named checkboxes', () => {
    const items = render(sample).findAll('ul.md-task-list > li.md-task')
    expect(items.map(item => item.text())).toEqual(['parse with micromark', 'ship it'])
    const boxes = items.map(item => item.get('input[type="checkbox"]').element as HTMLInputElement)
    expect(boxes.map(box => [box.checked, box.disabled, box.getAttribute('aria-label')])).toEqual([[true, true, 'Task'], [false, true, 'Task']])
  })

  it('renders strikethrough, nested emphasis, bare URLs and `)` inside link URLs', () => {
    const paragraph = render(sample).findAll('p').find(p => p.text().startsWith('This is'))!
    expect(paragraph.get('strong').text()).toBe('very important')
    expect(paragraph.get('strong > em').text()).toBe('very')
    expect(paragraph.get('del').text()).toBe('obsolete')
    const links = paragraph.findAll('a')
    expect(links.map(link => [link.text(), link.attributes('href')])).toEqual([
      ['https://vuejs.org/guide', 'https://vuejs.org/guide'],
      ['the page', 'https://en.wikipedia.org/wiki/Vue_(framework)'],
    ])
  })

  it('renders fenced code with its language class and the code as written', () => {
    const code = render(sample).get('pre code')
    expect(code.classes()).toEqual(['language-ts'])
    expect(code.text()).toBe('const ok = a * b < c')
  })

  it('links bare URLs as GFM does: www., trailing punctuation and unbalanced ) left out, none inside links or code', () => {
    const wrapper = render('Go to www.nuxt.com, or https://a.test/x_(y)). Also (https://b.test/z)! `https://c.test` [https://d.test](https://e.test)')
    expect(wrapper.findAll('a').map(link => [link.text(), link.attributes('href')])).toEqual([
      ['www.nuxt.com', 'http://www.nuxt.com/'],
      ['https://a.test/x_(y)', 'https://a.test/x_(y)'],
      ['https://b.test/z', 'https://b.test/z'],
      ['https://d.test', 'https://e.test/'],
    ])
    expect(wrapper.get('code').text()).toBe('https://c.test')
  })

  it('resolves reference links and images, and sends every URL through the http(s) check', () => {
    const wrapper = render([
      'See [the guide][guide], [bad][js] and ![a diagram](https://a.test/d.png "Flow") ![x](javascript:alert(1)).',
      '',
      '[guide]: https://vuejs.org/guide "Guide"',
      '[js]: javascript:alert(1)',
    ].join('\n'))
    const links = wrapper.findAll('a')
    expect(links.map(link => [link.text(), link.attributes('href'), link.attributes('title')])).toEqual([['the guide', 'https://vuejs.org/guide', 'Guide']])
    const image = wrapper.get('img')
    expect([image.attributes('src'), image.attributes('alt'), image.attributes('title'), image.attributes('referrerpolicy')]).toEqual(['https://a.test/d.png', 'a diagram', 'Flow', 'no-referrer'])
    expect(wrapper.findAll('img').length).toBe(1)
    expect(wrapper.text()).toContain('bad')
    expect(wrapper.html()).not.toContain('javascript:')
  })

  it('loads images over https only: an http image, which the page\'s CSP (img-src https:) would block, is a link to it', () => {
    const wrapper = render('![build log](http://ci.test/log.png) ![badge](https://ci.test/badge.svg)')
    expect(wrapper.findAll('img').map(image => image.attributes('src'))).toEqual(['https://ci.test/badge.svg'])
    const link = wrapper.get('a')
    expect([link.text(), link.attributes('href'), link.attributes('rel')]).toEqual(['build log', 'http://ci.test/log.png', LINK_REL])
  })

  it('shows raw HTML blocks as text', () => {
    const wrapper = render('<div onclick="x()">\n<b>hi</b>\n</div>')
    expect(wrapper.find('div[onclick]').exists()).toBe(false)
    expect(wrapper.find('b').exists()).toBe(false)
    expect(wrapper.get('p.md-raw').text()).toBe('<div onclick="x()">\n<b>hi</b>\n</div>')
  })

  it('renders footnotes without ids a message could clobber', () => {
    const wrapper = render('Fast[^1].\n\n[^1]: Measured on 2 cores.')
    expect(wrapper.get('sup.md-footnote-ref').text()).toBe('1')
    expect(wrapper.get('.md-footnote').text()).toBe('1Measured on 2 cores.')
    expect(wrapper.html()).not.toMatch(/\sid=/)
  })
})

describe('a message as it streams in', () => {
  it('renders half-written Markdown sensibly at every step', () => {
    const message = '## Plan\n\n- [x] **read** the `reducer`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```ts\nconst x = 1\n```\n'
    for (let end = 1; end <= message.length; end++) {
      const wrapper = render(message.slice(0, end))
      expect(wrapper.find('script').exists()).toBe(false)
      // Nothing is lost: every character written so far is on screen (markers aside).
      const shown = wrapper.text().replace(/\s+/g, '')
      const written = message.slice(0, end).replace(/[#*`|\-[\]x\s]/g, '')
      for (const char of written) expect(shown).toContain(char)
    }
    expect(render('Un**finished').text()).toBe('Un**finished')
    expect(render('```ts\nconst a').get('pre code').text()).toBe('const a')
  })

  it('re-parses only the section a new token changed', () => {
    const parse = createMarkdownParser()
    const paragraph = (n: number) => `Paragraph ${n} of a long answer, with **emphasis** and \`code\`. ${'Filler words. '.repeat(20)}\n\n`
    let text = ''
    for (let n = 0; text.length < 5 * SECTION_MIN_LENGTH; n++) text += paragraph(n)
    const before = parse(text)
    expect(before.length).toBeGreaterThan(3)
    for (const token of ['More', ' tok', 'ens'].map((_, i, all) => all.slice(0, i + 1).join(''))) {
      const after = parse(`${text}${token}`)
      // Every finished section is the very same parse: only the one holding the new text is new.
      before.slice(0, -1).forEach((section, index) => expect(after[index]).toBe(section))
      expect(after.filter(section => !before.includes(section)).length).toBe(1)
    }
  })

  it('cuts sections only where a top-level block starts, never inside fenced code or a list', () => {
    const code = `\`\`\`\n${'x\n\n'.repeat(SECTION_MIN_LENGTH)}\`\`\`\n`
    const list = `${'- an item of a loose list\n\n'.repeat(SECTION_MIN_LENGTH / 16)}`
    const sections = splitMarkdownSections(`${list}${code}After.\n`)
    expect(sections.join('')).toBe(`${list}${code}After.\n`)
    expect(sections).toEqual([list, code, 'After.\n'])
    const parsed = parseMarkdown(`${list}${code}After.\n`)
    expect(parsed.map(section => section.nodes.map(node => node.type))).toEqual([['list'], ['code'], ['paragraph']])
  })
})

describe('limits', () => {
  it('bounds nesting depth', () => {
    const deep = `${'> '.repeat(5000)}deep`
    expect(() => render(deep)).not.toThrow()
    const list = Array.from({ length: 200 }, (_, i) => `${'  '.repeat(i)}- item ${i}`).join('\n')
    expect(() => render(list)).not.toThrow()
    const emphasis = `${'*'.repeat(300)}deep${'*'.repeat(300)}`
    expect(render(emphasis).text()).toContain('deep')
  })

  it('switches a construct off only in the section that has too many of its markers', () => {
    const calm = 'Some *emphasis* here.\n\n'.repeat(200)
    const source = `${calm}${'a* '.repeat(500)}\n\n${calm}`
    const sections = splitMarkdownSections(source)
    const stormy = sections.findIndex(section => section.includes('a* a*'))
    expect(sections.length).toBeGreaterThan(3)
    sections.forEach((section, index) => {
      const wrapper = render(section)
      const expected = index === stormy ? 0 : section.split('*emphasis*').length - 1
      expect(wrapper.findAll('em').length, `section ${index}`).toBe(expected)
    })
    expect(render(sections[stormy]!).text()).toContain('a* a* a*')
  })

  it('shows a section denser than any prose as plain text, every character kept', () => {
    const dense = '-\n'.repeat(3000)
    const wrapper = render(dense)
    expect(wrapper.find('li').exists()).toBe(false)
    expect(wrapper.text().replace(/\s/g, '')).toBe('-'.repeat(3000))
  })
})

describe('sections of a growing message', () => {
  it('are the same whether split at once or as the text streams in', () => {
    const messages = [
      agentMessage(12_000),
      `${'x\n```\ny\n```\n'.repeat(300)}${'- item\n\n'.repeat(300)}`,
      `Intro\n\n\`\`\`\n${'code line\n\n'.repeat(400)}\`\`\`\nAfter\n\n${'1. one\n2) two\n\n'.repeat(200)}`,
    ]
    for (const message of messages) {
      const split = createSectionSplitter(500)
      for (let end = 0; end <= message.length; end += 7) {
        const text = message.slice(0, end)
        expect(split(text), `${end} characters`).toEqual(splitMarkdownSections(text, 500))
      }
    }
  })
})

describe('a long fenced code block', () => {
  it('is built without micromark exactly as micromark builds it', () => {
    const blocks = ['```ts\nconst a = 1\n```', '~~~~py  title="x.py" \ncode\n\n  indented\n~~~~~', '```\nunclosed\nstill code', '```\n\n\n',
      '```js\r\na\r\nb\r\n```\r\n', '```\na\n```  \n', '```c++ \n#include <x>\n```', '````\n```\nnot closed by a shorter fence\n````']
    for (const block of blocks) {
      const [expected] = fromMarkdown(block).children
      delete expected!.position
      expect(parseMarkdownSection(block).nodes, JSON.stringify(block)).toEqual([expected])
    }
  })
})
