/**
 * Inputs built to make a parser of agent text super-linear: every case the old hand-written
 * parsers fell to, every case micromark (the Markdown parser) or its GFM extensions fell to, and
 * neighbours of them. Each builder makes exactly `length` characters (or fewer), so one corpus
 * serves the hostile-input test (100,000 characters, a text field's limit) and the render
 * benchmark (10,000 and 100,000, to show the scaling).
 */

/** `unit` repeated to exactly `length` characters. */
export const fill = (unit: string, length: number) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length)

const ESC = '\x1B'
type Corpus = Record<string, (length: number) => string>

/** Backtick runs of growing length (1, 2, 3 …): none closes another, so each code span searches. */
function risingBacktickRuns(length: number): string {
  let text = ''
  for (let run = 1; text.length < length; run++) text += `${'`'.repeat(run)}a`
  return text.slice(0, length)
}

/** A long answer as agents write it: headings, prose with emphasis and links, lists, code, tables. */
export function agentMessage(length: number): string {
  const step = (n: number) => [
    `## Step ${n}: update \`stores/session.ts\``,
    '',
    `The **store** keeps one \`Map\` per session (see [the Pinia docs](https://pinia.vuejs.org/core-concepts/) and https://vuejs.org/guide/).`,
    `I renamed \`apply_batch\` to _applyBatch_ and kept ~~the old alias~~ a deprecation note; snake_case names like my_func_name stay.`,
    '',
    '- [x] read the reducer',
    '- [ ] run the tests',
    '  1. `npm test`',
    '  2. check the **coverage** report',
    '',
    '> Note: the offsets are strings, not numbers.',
    '',
    '```ts',
    `export function apply(state: State, batch: Change[]) { // step ${n}`,
    '  for (const change of batch) state.items[change.key] = change.value ?? null',
    '  return state.items.length * 2 + (state.offset ?? 0)',
    '}',
    '```',
    '',
    '| file | lines | change |',
    '|:-----|------:|:------:|',
    `| \`stores/session.ts\` | ${n * 7} | renamed |`,
    `| \`utils/reducer.ts\` | ${n * 3} | **new** |`,
    '',
  ].join('\n')
  let text = ''
  for (let n = 1; text.length < length; n++) text += step(n)
  return text.slice(0, length)
}

export const HOSTILE_MARKDOWN: Corpus = {
  'heading with trailing spaces (old HEADING regex)': n => `# a${' '.repeat(n - 4)}b`,
  'bullet and ordered items ending in U+2028': n => `- a${'\u2028'.repeat(n / 2 - 4)}b\n1. a${'\u2028'.repeat(n / 2 - 6)}b`,
  'URL followed by dots (autolink trailing punctuation)': n => `https://a.b/${'.'.repeat(n - 13)}x`,
  'URL followed by &a; references': n => `see https://a.b/${fill('&a;', n - 17)}x`,
  'www. domain followed by dots': n => `www.a${'.'.repeat(n - 6)}x`,
  'URL followed by closing parentheses': n => `https://a.b/${')'.repeat(n - 12)}`,
  'rejected www. URLs without spaces': n => fill('éwww.a_', n),
  '*a repeated (emphasis)': n => fill('*a', n),
  '**a repeated': n => fill('**a', n),
  '_a repeated': n => fill('_a', n),
  'a* repeated (unmatched closers)': n => fill('a* ', n),
  '* run, a, * run (nested emphasis)': n => `${'*'.repeat(n / 2 - 1)}a${'*'.repeat(n / 2)}`,
  '~a repeated (strikethrough)': n => fill('~a', n),
  '[ repeated': n => '['.repeat(n),
  '] repeated': n => ']'.repeat(n),
  ']a repeated (label ends)': n => fill(']a', n),
  '*] and _] repeated': n => fill('*]_]', n),
  '[a]( repeated (unclosed links)': n => fill('[a](', n),
  '[a](<b repeated (cmark #218)': n => fill('[a](<b', n),
  'one long link destination': n => `[a](https://a.b/${'x'.repeat(n - 17)})`,
  'unclosed ( in a destination': n => `[a](${'('.repeat(n - 4)}`,
  '![ repeated (images)': n => fill('![', n),
  '[![ nested image links': n => `${fill('[![', n / 2)}${fill('](x)', n / 2)}`,
  'backticks': n => '`'.repeat(n),
  'backtick runs of rising length': risingBacktickRuns,
  '< repeated': n => '<'.repeat(n),
  '<a and <!-- repeated (raw HTML)': n => fill('<a <!--', n),
  'table with thousands of columns': n => `|${fill('a|', n / 2)}\n|${fill('-|', n / 2 - 3)}`,
  'table with thousands of rows': n => `| a | b |\n|---|---|\n${fill('| *x* | `y` |\n', n - 20)}`,
  '> repeated (quote depth)': n => '>'.repeat(n),
  '> > repeated': n => fill('> ', n),
  '- - repeated (list depth)': n => fill('- ', n),
  '1. 1. repeated': n => fill('1. ', n),
  '+ and * list markers repeated': n => fill('+ * ', n),
  'lists nested by indentation': n => Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i * 2)}- x`).join('\n').slice(0, n),
  '\\r repeated': n => '\r'.repeat(n),
  '\\r\\n repeated': n => '\r\n'.repeat(n / 2),
  'paragraphs of one letter': n => fill('a\n\n', n),
  'one paragraph of one-letter lines': n => fill('a\n', n),
  'empty list items': n => fill('-\n', n),
  'setext headings (a, =)': n => fill('a\n=\n', n),
  '= lines': n => fill('=\n', n),
  'empty ATX headings': n => fill('#\n', n),
  '&a and &# (character references)': n => fill('&a&#', n),
  'reference definitions and uses': n => `${fill('[a]: https://a.b\n', n / 2)}${fill('[a] ', n / 2)}`,
  'footnote calls': n => fill('[^a]', n),
  'task list items': n => fill('- [ ] x\n', n),
  'fences opening and closing': n => fill('```\n', n),
  'fenced code of one-letter lines': n => `\`\`\`\n${fill('a\n', n - 4)}`,
  'fenced code blocks with prose between': n => fill('x\n```\ny\n```\n', n),
  'escaped punctuation': n => fill('\\*\\[\\`', n),
  'every delimiter at once': n => fill('*_~`[<', n),
  'fence hidden by raw HTML': n => `<pre>\n\`\`\`\n</pre>\n${fill('*a', n - 20)}`,
  'fence inside a list item, then top-level text': n => `- a\n  \`\`\`\n\n${fill('*a', n - 12)}`,
  'a fence that is not one (backtick in info)': n => `\`\`\`a\`b\n${fill('*a', n - 8)}`,
  'emphasis inside fenced code': n => `\`\`\`py\n${fill('my_func(*args, **kw) ~/x] `', n - 10)}\n\`\`\``,
  'realistic agent message': agentMessage,
}

export const HOSTILE_ANSI: Corpus = {
  '\\r repeated, then text (old /\\r+\\n/ regex)': n => `${'\r'.repeat(n - 1)}x`,
  '\\r repeated, then \\n': n => `${'\r'.repeat(n - 1)}\n`,
  'progress bar: text and \\r repeated': n => fill('50%\r', n),
  'ESC[ with endless parameters': n => `${ESC}[${fill('1;', n - 2)}`,
  'ESC[ with endless parameters, then m': n => `${ESC}[${fill('1;', n - 3)}m`,
  'unterminated OSC title': n => `${ESC}]0;${'a'.repeat(n - 4)}`,
  'ESC repeated': n => ESC.repeat(n),
  'ESC[ repeated': n => fill(`${ESC}[`, n),
  'SGR colour changes repeated': n => fill(`${ESC}[31ma${ESC}[0m`, n),
  'private and intermediate CSI repeated': n => fill(`${ESC}[>0c${ESC}[1 q${ESC}[?25l`, n),
  'control characters repeated': n => fill('\x00\x07\x08', n),
  'OSC hyperlinks repeated': n => fill(`${ESC}]8;;https://a.b${ESC}\\x${ESC}]8;;${ESC}\\`, n),
}
