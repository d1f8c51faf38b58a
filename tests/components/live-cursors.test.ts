// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import LiveCursors from '../../components/session/LiveCursors.vue'
import { presence } from './fixtures'

afterEach(() => {
  document.body.innerHTML = ''
})

describe('LiveCursors', () => {
  it('places other participants\' cursors at their document coordinates, with names', async () => {
    const wrapper = mount(LiveCursors, {
      attachTo: document.body,
      props: {
        selfId: 'me',
        participants: [
          presence('me', { displayName: 'Me', cursor: { x: 1, y: 1 } }),
          presence('u2', { displayName: 'Grace', cursor: { x: 120, y: 2400 } }),
          presence('u3', { displayName: 'Idle' }),
          presence('u4', { cursor: { x: 5, y: 6 } }),
        ],
      },
    })
    await wrapper.vm.$nextTick()
    const overlay = document.body.querySelector('.live-cursors')!
    // Teleported to <body>, so document coordinates are the containing block's coordinates.
    expect(overlay.parentElement).toBe(document.body)
    expect(overlay.getAttribute('aria-hidden')).toBe('true')
    const cursors = Array.from(overlay.querySelectorAll<HTMLElement>('[data-testid="remote-cursor"]'))
    expect(cursors.map(cursor => cursor.dataset.userId)).toEqual(['u2', 'u4'])
    expect(cursors[0]!.style.transform).toBe('translate3d(120px, 2400px, 0)')
    expect(cursors.map(cursor => cursor.textContent?.trim())).toEqual(['Grace', 'u4'])

    await wrapper.setProps({ participants: [presence('u2', { displayName: 'Grace', cursor: { x: 300, y: 10 } })] })
    expect(document.querySelector<HTMLElement>('[data-testid="remote-cursor"]')!.style.transform).toBe('translate3d(300px, 10px, 0)')
    wrapper.unmount()
    expect(document.querySelector('[data-testid="remote-cursor"]')).toBeNull()
  })
})
