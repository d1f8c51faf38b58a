import type { Definition, List, ListItem, Nodes, PhrasingContent, RootContent, Table } from 'mdast'
import { h, type VNode, type VNodeArrayChildren } from 'vue'
import { type MarkdownSection, parseMarkdown } from '../../lib/markdown'
import { safeWebUrl } from '../../lib/web-url'

/**
 * mdast → VNodes. Strings go in as VNode children, which Vue writes as text nodes (escaped in
 * SSR): no `innerHTML`, no `v-html`. Raw HTML in the Markdown is shown as its text. The only
 * attributes built from agent text are link `href`s and image `src`s that `safeWebUrl` has limited
 * to http(s), titles and alt texts (escaped attribute values), and a code language class limited
 * to `[\w+#.-]`. No `id`s: agent text must not be able to clobber the page's.
 */
export interface MarkdownRenderOptions {
  /**
   * Markdown `#` becomes `<h{1 + headingOffset}>` (default 3, so `h4`): the viewer already has
   * an `h1` (the session), `h2` (panels) and `h3` (each message), and agent headings must not
   * outrank them in the document outline.
   */
  headingOffset?: number
  /** Replaces the default `<pre><code>` of fenced blocks (e.g. to add a copy button). */
  renderCodeBlock?: (block: CodeBlock) => VNode
}

export interface CodeBlock {
  /** The language of the info string, when it is a plain name (`ts`, `c++`, `objective-c`). */
  lang: string | null
  text: string
}

export const LINK_REL = 'noopener noreferrer nofollow'

/**
 * Nesting (quotes in lists in emphasis in links …) deeper than this is shown as its text: Vue
 * renders recursively, and a hostile message must not exhaust the stack.
 */
const MAX_DEPTH = 32

const LANGUAGE = /^[\w+#.-]{1,40}$/

interface Context {
  options: MarkdownRenderOptions
  definitions: ReadonlyMap<string, Definition>
  /** Inside a link's label: bare URLs stay text. */
  inLink: boolean
}

export function renderMarkdown(source: string, options: MarkdownRenderOptions = {}): VNode[] {
  return parseMarkdown(source).flatMap(section => renderMarkdownSection(section, options))
}

export function renderMarkdownSection(section: MarkdownSection, options: MarkdownRenderOptions = {}): VNode[] {
  return renderBlocks(section.nodes, { options, definitions: section.definitions, inLink: false }, 0)
}

export function renderCodeBlock(block: CodeBlock): VNode {
  return h('pre', { class: 'md-code' }, [
    h('code', { class: block.lang ? `language-${block.lang}` : undefined, 'data-lang': block.lang ?? undefined }, block.text),
  ])
}

function renderBlocks(nodes: RootContent[], context: Context, depth: number): VNode[] {
  const rendered: VNode[] = []
  for (const node of nodes) {
    const vnode = renderBlock(node, context, depth)
    if (vnode) rendered.push(vnode)
  }
  return rendered
}

function renderBlock(node: RootContent, context: Context, depth: number): VNode | null {
  if (depth >= MAX_DEPTH) return h('p', textOf(node))
  switch (node.type) {
    case 'heading': {
      const level = Math.min(6, node.depth + (context.options.headingOffset ?? 3))
      return h(`h${level}`, { class: `md-heading md-h${node.depth}` }, renderInlines(node.children, context, depth + 1))
    }
    case 'paragraph':
      return h('p', renderInlines(node.children, context, depth + 1))
    case 'code': {
      const block = { lang: node.lang && LANGUAGE.test(node.lang) ? node.lang : null, text: node.value }
      return (context.options.renderCodeBlock ?? renderCodeBlock)(block)
    }
    case 'list':
      return renderList(node, context, depth)
    case 'blockquote':
      return h('blockquote', renderBlocks(node.children, context, depth + 1))
    case 'thematicBreak':
      return h('hr')
    case 'table':
      return renderTable(node, context, depth)
    case 'html':
      // Raw HTML is text: shown as written, never parsed.
      return h('p', { class: 'md-raw' }, node.value)
    case 'footnoteDefinition':
      return h('div', { class: 'md-footnote' }, [h('sup', { class: 'md-footnote-label' }, node.label ?? node.identifier)].concat(renderBlocks(node.children, context, depth + 1)))
    case 'definition':
      return null
    default:
      // List items, rows and cells outside their parents, or phrasing at block level: micromark
      // makes none of these, so the text is enough.
      return h('p', textOf(node))
  }
}

function renderList(list: List, context: Context, depth: number): VNode {
  const tasks = list.children.some(item => typeof item.checked === 'boolean')
  const items = list.children.map(item => renderListItem(item, list.spread === true, context, depth + 1))
  const className = tasks ? 'md-task-list' : undefined
  return list.ordered
    ? h('ol', { class: className, start: list.start === 1 || list.start == null ? undefined : list.start }, items)
    : h('ul', { class: className }, items)
}

/**
 * A tight item's paragraphs render inline, without `<p>` and its margins. A task item starts with
 * a disabled checkbox: its state is announced, and its name says what it is.
 */
function renderListItem(item: ListItem, looseList: boolean, context: Context, depth: number): VNode {
  const tight = !looseList && !item.spread
  const content: VNodeArrayChildren = []
  for (const child of item.children) {
    if (tight && child.type === 'paragraph') append(content, renderInlines(child.children, context, depth + 1))
    else content.push(renderBlock(child, context, depth + 1))
  }
  if (typeof item.checked !== 'boolean') return h('li', content)
  const checkbox = h('input', { type: 'checkbox', class: 'md-task-checkbox', checked: item.checked, disabled: true, 'aria-label': 'Task' })
  return h('li', { class: 'md-task', 'data-checked': String(item.checked) }, ([checkbox, ' '] as VNodeArrayChildren).concat(content))
}

/** A wide table scrolls inside its own box instead of widening the message. */
function renderTable(table: Table, context: Context, depth: number): VNode {
  const [head, ...body] = table.children
  const cells = (tag: 'th' | 'td', row: Table['children'][number]) => row.children.map((cell, index) => {
    const align = table.align?.[index]
    return h(tag, { style: align ? { textAlign: align } : undefined }, renderInlines(cell.children, context, depth + 3))
  })
  return h('div', { class: 'md-table-wrap' }, [
    h('table', { class: 'md-table' }, [
      head ? h('thead', [h('tr', cells('th', head))]) : null,
      body.length ? h('tbody', body.map(row => h('tr', cells('td', row)))) : null,
    ]),
  ])
}

function renderInlines(nodes: PhrasingContent[], context: Context, depth: number): VNodeArrayChildren {
  const rendered: VNodeArrayChildren = []
  for (const node of nodes) append(rendered, renderInline(node, context, depth))
  return rendered
}

/** `push(...items)` without the spread: a paragraph of 50,000 links must not overflow the stack. */
function append(target: VNodeArrayChildren, items: VNodeArrayChildren): void {
  for (const item of items) target.push(item)
}

function renderInline(node: PhrasingContent, context: Context, depth: number): VNodeArrayChildren {
  if (depth >= MAX_DEPTH) return [textOf(node)]
  switch (node.type) {
    case 'text':
      return context.inLink ? [node.value] : linkBareUrls(node.value)
    case 'break':
      return [h('br')]
    case 'inlineCode':
      return [h('code', { class: 'md-inline-code' }, node.value)]
    case 'strong':
      return [h('strong', renderInlines(node.children, context, depth + 1))]
    case 'emphasis':
      return [h('em', renderInlines(node.children, context, depth + 1))]
    case 'delete':
      return [h('del', renderInlines(node.children, context, depth + 1))]
    case 'html':
      return [node.value]
    case 'link':
      return renderLink(node.url, node.title, node.children, context, depth)
    case 'linkReference': {
      const definition = context.definitions.get(node.identifier)
      return renderLink(definition?.url ?? '', definition?.title, node.children, context, depth)
    }
    case 'image':
      return renderImage(node.url, node.alt, node.title)
    case 'imageReference': {
      const definition = context.definitions.get(node.identifier)
      return renderImage(definition?.url ?? '', node.alt, definition?.title)
    }
    case 'footnoteReference':
      return [h('sup', { class: 'md-footnote-ref' }, node.label ?? node.identifier)]
  }
}

/** An unsafe target keeps its label, as plain text: the reader loses nothing but the link. */
function renderLink(url: string, title: string | null | undefined, children: PhrasingContent[], context: Context, depth: number): VNodeArrayChildren {
  const label = renderInlines(children, { ...context, inLink: true }, depth + 1)
  const href = safeWebUrl(url)
  if (!href) return label
  return [anchor(href, title, label)]
}

/** Links open in a new tab without handing it this page (LINK_REL). */
function anchor(href: string, title: string | null | undefined, label: VNodeArrayChildren | string) {
  return h('a', { href, title: title ?? undefined, rel: LINK_REL, target: '_blank' }, label)
}

/**
 * Images load from https only (the page's CSP allows no other), lazily and without telling the
 * image host which page shows them; an http image becomes a link to it, labelled with its alt text.
 */
function renderImage(url: string, alt: string | null | undefined, title: string | null | undefined): VNodeArrayChildren {
  const src = safeWebUrl(url)
  if (!src) return alt ? [alt] : []
  if (!src.startsWith('https:')) return [anchor(src, title, alt || src)]
  return [h('img', { class: 'md-image', src, alt: alt ?? '', title: title ?? undefined, loading: 'lazy', referrerpolicy: 'no-referrer' })]
}

/**
 * Bare `http(s)://` and `www.` URLs in text become links, as GFM's literal autolinks would make
 * them. Those are off in the parser (markdown.ts): they make every letter a possible construct
 * start (a third of the parse time), their trailing-punctuation check is quadratic in a run of
 * dots after a URL, and their tree transform re-scans the rest of a text node after each URL it
 * rejects. Here one regular expression of literal alternatives finds each start, and each URL is
 * scanned once: linear.
 */
const URL_START = /\b(?:https?:\/\/|www\.)/gi

function linkBareUrls(text: string): VNodeArrayChildren {
  const parts: VNodeArrayChildren = []
  let written = 0
  URL_START.lastIndex = 0
  for (let match = URL_START.exec(text); match; match = URL_START.exec(text)) {
    const start = match.index
    const prefixEnd = start + match[0].length
    let end = prefixEnd
    while (end < text.length && !/[\s<]/.test(text.charAt(end))) end++
    URL_START.lastIndex = end
    end = withoutTrailingPunctuation(text, prefixEnd, end)
    const url = text.slice(start, end)
    const href = end > prefixEnd ? safeWebUrl(match[0].toLowerCase() === 'www.' ? `http://${url}` : url) : null
    if (!href) continue
    if (start > written) parts.push(text.slice(written, start))
    parts.push(h('a', { href, rel: LINK_REL, target: '_blank' }, url))
    written = end
  }
  if (written < text.length) parts.push(text.slice(written))
  return parts
}

/**
 * GFM's rule for the end of a literal autolink: trailing `?!.,:*_~'"` and `&name;` belong to the
 * sentence, and so does a `)` that closes nothing inside the URL.
 */
function withoutTrailingPunctuation(text: string, start: number, end: number): number {
  let unmatchedClosing = 0
  for (let i = start; i < end; i++) {
    if (text.charCodeAt(i) === 0x28) unmatchedClosing--
    else if (text.charCodeAt(i) === 0x29) unmatchedClosing++
  }
  while (end > start) {
    const char = text.charAt(end - 1)
    if ('?!.,:*_~\'"'.includes(char)) {
      end--
    }
    else if (char === ')' && unmatchedClosing > 0) {
      unmatchedClosing--
      end--
    }
    else if (char === ';') {
      let at = end - 2
      while (at > start && /[a-z\d]/i.test(text.charAt(at))) at--
      if (text.charAt(at) !== '&' || at === end - 2) break
      end = at
    }
    else {
      break
    }
  }
  return end
}

/** The text of a subtree, without recursion: past MAX_DEPTH, or for a node out of its place. */
function textOf(root: Nodes): string {
  const parts: string[] = []
  const pending: Nodes[] = [root]
  for (let node = pending.pop(); node; node = pending.pop()) {
    if ('value' in node) parts.push(node.value)
    else if (node.type === 'image' || node.type === 'imageReference') parts.push(node.alt ?? '')
    else if ('children' in node) for (let i = node.children.length - 1; i >= 0; i--) pending.push(node.children[i]!)
  }
  return parts.join('')
}
