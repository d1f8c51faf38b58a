import { Resvg } from '@resvg/resvg-js'
import satori from 'satori'
import fonts from '#og-fonts'
import { drawable, OG_IMAGE_HEIGHT, OG_IMAGE_WIDTH } from './session-card'
import type { SessionCard } from './session-card'

type Node = { type: string, props: { style?: Record<string, unknown>, children?: Node[] | string } }
const box = (style: Record<string, unknown>, children: Node[] | string): Node => ({ type: 'div', props: { style, children } })

function cardTree(card: SessionCard): Node {
  // Satori sizes boxes without their padding (content-box): the padding is taken off the size.
  return box({ display: 'flex', flexDirection: 'column', width: OG_IMAGE_WIDTH - 2 * 64, height: OG_IMAGE_HEIGHT - 2 * 56, padding: '56px 64px', background: '#f6f7f9', color: '#111827', fontFamily: 'Inter' }, [
    box({ display: 'flex', fontSize: 24, color: '#4b5563' }, `Durable Sessions · ${drawable(card.status)}`),
    box({ display: 'flex', fontSize: 56, fontWeight: 700, marginTop: 20, lineHeight: 1.15, maxHeight: 140, overflow: 'hidden' }, drawable(card.title) || 'Session'),
    box({ display: 'flex', flexDirection: 'column', marginTop: 32, padding: '24px 28px', borderRadius: 16, background: '#ffffff', border: '2px solid #e5e7eb', fontSize: 26, lineHeight: 1.4, color: '#374151', flexGrow: 1, flexShrink: 1, minHeight: 0, overflow: 'hidden' },
      card.lines.length ? card.lines.map(line => box({ display: 'flex', marginBottom: 8 }, line)) : 'No messages yet.'),
  ])
}

/** The card as a PNG, 1200×630 (the size link previews expect). */
export async function renderSessionCard(card: SessionCard): Promise<Buffer> {
  const svg = await satori(cardTree(card) as Parameters<typeof satori>[0], {
    width: OG_IMAGE_WIDTH,
    height: OG_IMAGE_HEIGHT,
    fonts: [
      { name: 'Inter', data: fonts.regular, weight: 400, style: 'normal' },
      { name: 'Inter', data: fonts.bold, weight: 700, style: 'normal' },
    ],
  })
  return new Resvg(svg, { fitTo: { mode: 'original' } }).render().asPng()
}

/**
 * Rendered cards by session and offset (and title, which changes off the stream): a card is
 * rendered once per change of its session, however many link previews fetch it.
 */
export class SessionCardCache {
  private readonly entries = new Map<string, Promise<Buffer>>()

  constructor(private readonly capacity = 100) {}

  get(key: string, render: () => Promise<Buffer>): Promise<Buffer> {
    let entry = this.entries.get(key)
    if (entry) {
      this.entries.delete(key)
    }
    else {
      entry = render()
      // A failed render is not kept: the next request tries again.
      entry.catch(() => this.entries.delete(key))
    }
    this.entries.set(key, entry)
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!)
    return entry
  }
}
