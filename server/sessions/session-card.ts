/** What a session's link preview shows: exactly what its viewer link shows, and less. */
export interface SessionCard {
  title: string
  /** e.g. "Agent running · 40%"; the agent's own status line. */
  status: string
  /** The newest prompts and messages, oldest first, as plain text. */
  lines: string[]
}

export const OG_IMAGE_WIDTH = 1200
export const OG_IMAGE_HEIGHT = 630
/** Characters of conversation on the card: about what fits its lower half at this size. */
const CARD_TEXT_CHARS = 420

/**
 * Text as the card's font can draw it: Inter's Latin subsets hold Latin letters and general
 * punctuation; anything else (emoji, CJK, box drawing) would come out as empty boxes, so it goes.
 */
export function drawable(text: string): string {
  return text.replace(/[^\u0020-\u024F\u2010-\u2027\u2030-\u205E\n]/gu, '').replace(/\s+/g, ' ').trim()
}

/** Markdown's emphasis, code and block marks dropped: the card shows a message as it reads. */
function plainText(markdown: string): string {
  return markdown.replace(/\*\*|__|`+/g, '').replace(/^[ \t]*(?:#{1,6}|>|[-*+]|\d+\.)[ \t]+/gm, '')
}

/** The tail of the conversation that fits, cut at a word where it is cut. */
export function cardLines(texts: readonly string[]): string[] {
  const lines: string[] = []
  let room = CARD_TEXT_CHARS
  for (let at = texts.length - 1; at >= 0 && room > 0; at--) {
    const text = drawable(plainText(texts[at]!))
    if (!text) continue
    if (text.length > room) {
      // The oldest line shown starts mid-text: from a word, after an ellipsis.
      lines.unshift(`…${text.slice(text.length - room).replace(/^\S*\s/, '')}`)
      break
    }
    lines.unshift(text)
    room -= text.length
  }
  return lines
}
