import { h, type VNode, type VNodeArrayChildren } from 'vue'
import { type MarkdownBlock, type MarkdownInline, parseMarkdown } from './markdown'

/**
 * Markdown tree → VNodes. Strings go in as VNode children, which Vue writes as text nodes
 * (escaped in SSR): no `innerHTML`, no `v-html`, no attribute built from agent text except a
 * link `href` that `safeLinkHref` has already limited to http(s), and a code language class
 * limited to `[\w+#.-]`.
 */
export interface MarkdownRenderOptions {
  /**
   * Markdown `#` becomes `<h{1 + headingOffset}>` (default 3, so `h4`): the viewer already has
   * an `h1` (the session), `h2` (panels) and `h3` (each message), and agent headings must not
   * outrank them in the document outline.
   */
  headingOffset?: number
  /** Replaces the default `<pre><code>` of fenced blocks (e.g. to add a copy button). */
  renderCodeBlock?: (block: { lang: string | null, text: string }, key: number) => VNode
}

export const LINK_REL = 'noopener noreferrer nofollow'

export function renderMarkdown(source: string, options: MarkdownRenderOptions = {}): VNode[] {
  return renderMarkdownBlocks(parseMarkdown(source), options)
}

export function renderMarkdownBlocks(blocks: MarkdownBlock[], options: MarkdownRenderOptions = {}): VNode[] {
  return blocks.map((block, key) => renderBlock(block, key, options))
}

function renderBlock(block: MarkdownBlock, key: number, options: MarkdownRenderOptions): VNode {
  switch (block.type) {
    case 'heading': {
      const level = Math.min(6, block.level + (options.headingOffset ?? 3))
      return h(`h${level}`, { key, class: `md-heading md-h${block.level}` }, renderInlines(block.children))
    }
    case 'paragraph':
      return h('p', { key }, renderInlines(block.children))
    case 'code':
      if (options.renderCodeBlock) return options.renderCodeBlock(block, key)
      return renderCodeBlock(block, key)
    case 'list': {
      const items = block.items.map((item, index) => h('li', { key: index }, renderListItem(item, options)))
      return block.ordered
        ? h('ol', { key, start: block.start === 1 ? undefined : block.start }, items)
        : h('ul', { key }, items)
    }
    case 'blockquote':
      return h('blockquote', { key }, renderMarkdownBlocks(block.children, options))
    case 'rule':
      return h('hr', { key })
  }
}

export function renderCodeBlock(block: { lang: string | null, text: string }, key?: number): VNode {
  return h('pre', { key, class: 'md-code' }, [
    h('code', { class: block.lang ? `language-${block.lang}` : undefined, 'data-lang': block.lang ?? undefined }, block.text),
  ])
}

/** A tight item (one paragraph) renders inline, without a `<p>` and its margins. */
function renderListItem(item: MarkdownBlock[], options: MarkdownRenderOptions): VNodeArrayChildren {
  const [first] = item
  if (item.length === 1 && first?.type === 'paragraph') return renderInlines(first.children)
  return renderMarkdownBlocks(item, options)
}

function renderInlines(nodes: MarkdownInline[]): VNodeArrayChildren {
  return nodes.map((node, key) => {
    switch (node.type) {
      case 'text':
        return node.text
      case 'break':
        return h('br', { key })
      case 'code':
        return h('code', { key, class: 'md-inline-code' }, node.text)
      case 'strong':
        return h('strong', { key }, renderInlines(node.children))
      case 'em':
        return h('em', { key }, renderInlines(node.children))
      case 'link':
        return h('a', { key, href: node.href, rel: LINK_REL, target: '_blank' }, renderInlines(node.children))
    }
  })
}
