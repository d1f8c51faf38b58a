// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import AnsiText from '../../components/session/AnsiText.vue'
import { ansiClasses, parseAnsi, stripAnsi } from '../../lib/ansi'

const ESC = '\x1b'

describe('parseAnsi', () => {
  it('splits SGR colours, bold, dim and reset into segments', () => {
    const segments = parseAnsi(`plain ${ESC}[31mred ${ESC}[1mbold-red${ESC}[0m after ${ESC}[2;94mdim-bright-blue${ESC}[m end`)
    expect(segments.map(({ text, fg, bold, dim }) => ({ text, fg, bold, dim }))).toEqual([
      { text: 'plain ', fg: null, bold: false, dim: false },
      { text: 'red ', fg: 31, bold: false, dim: false },
      { text: 'bold-red', fg: 31, bold: true, dim: false },
      { text: ' after ', fg: null, bold: false, dim: false },
      { text: 'dim-bright-blue', fg: 94, bold: false, dim: true },
      { text: ' end', fg: null, bold: false, dim: false },
    ])
  })

  it('supports every foreground code 30–37 and 90–97, and 39 / 22 resets', () => {
    for (const code of [30, 31, 32, 33, 34, 35, 36, 37, 90, 91, 92, 93, 94, 95, 96, 97])
      expect(parseAnsi(`${ESC}[${code}mx`)[0]!.fg).toBe(code)
    const [first, second] = parseAnsi(`${ESC}[1;32ma${ESC}[22;39mb`)
    expect(first).toMatchObject({ text: 'a', fg: 32, bold: true })
    expect(second).toMatchObject({ text: 'b', fg: null, bold: false, dim: false })
  })

  it('drops other escape sequences and control characters instead of showing them', () => {
    expect(stripAnsi(`${ESC}[2K${ESC}[1Gdone${ESC}]0;title\x07!\x07`)).toBe('done!')
    // 256-colour arguments must not be read as codes (5;31 would otherwise turn red).
    expect(parseAnsi(`${ESC}[38;5;31mx`)[0]!.fg).toBeNull()
  })

  it('consumes CSI sequences with private or intermediate bytes, and OSC/DCS strings, without showing them', () => {
    // Device attributes, cursor shape, cursor hide/show, xterm key modifiers (a private `m` is not SGR).
    expect(stripAnsi(`a${ESC}[>0cb${ESC}[1 qc${ESC}[?25ld${ESC}[?25he`)).toBe('abcde')
    expect(parseAnsi(`${ESC}[>4;2mplain`)).toEqual([{ text: 'plain', fg: null, bold: false, dim: false, italic: false, underline: false }])
    // Window titles end with BEL or ST; hyperlinks keep only their text; DCS strings vanish.
    expect(stripAnsi(`${ESC}]0;title\x07one ${ESC}]2;other${ESC}\\two`)).toBe('one two')
    expect(stripAnsi(`${ESC}]8;;https://example.com${ESC}\\link${ESC}]8;;${ESC}\\ done`)).toBe('link done')
    expect(stripAnsi(`${ESC}P1$r0m${ESC}\\after`)).toBe('after')
    // Charset designation and two-byte escapes; an unfinished sequence at the end is dropped.
    expect(stripAnsi(`${ESC}(Bx${ESC}7y${ESC}8z${ESC}[1;2`)).toBe('xyz')
    // A sequence broken by a line break gives its text back.
    expect(stripAnsi(`${ESC}[12\nnext`)).toBe('\nnext')
  })

  it('reads colon sub-parameters and skips 256-colour and RGB arguments', () => {
    expect(parseAnsi(`${ESC}[38:2::255:0:0;1mx`)[0]).toMatchObject({ fg: null, bold: true })
    expect(parseAnsi(`${ESC}[38;2;31;32;33;4mx`)[0]).toMatchObject({ fg: null, underline: true })
    expect(parseAnsi(`${ESC}[4:3mx${ESC}[4:0my`).map(({ text, underline }) => [text, underline])).toEqual([['x', true], ['y', false]])
  })

  it('keeps the last write after a carriage return (progress bars)', () => {
    expect(stripAnsi('10%\r50%\r100%\nnext\r\n')).toBe('100%\nnext\n')
    // The overwritten text goes, its style stays in effect, as on a terminal.
    expect(parseAnsi(`${ESC}[32mloading\rdone`)).toEqual([{ text: 'done', fg: 32, bold: false, dim: false, italic: false, underline: false }])
    expect(stripAnsi('a\r\r\r\nb\r')).toBe('a\nb')
  })

  it('maps styles to classes', () => {
    expect(ansiClasses({ fg: 91, bold: true, dim: true, italic: false, underline: true })).toEqual(['ansi-fg-91', 'ansi-bold', 'ansi-dim', 'ansi-underline'])
  })
})

describe('AnsiText', () => {
  it('renders styled spans with text only, even for HTML in the output', () => {
    const wrapper = mount(AnsiText, { props: { text: `${ESC}[31m<b>err</b>${ESC}[0m ok` } })
    const spans = wrapper.findAll('span.ansi > span')
    expect(spans.map(span => [span.element.textContent, span.classes()])).toEqual([['<b>err</b>', ['ansi-fg-31']], [' ok', []]])
    expect(wrapper.find('b').exists()).toBe(false)
  })
})
