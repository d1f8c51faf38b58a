// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import MessageList from '../../components/session/MessageList.vue'
import { agentState, message, messages } from './fixtures'

/** happy-dom does no layout: give the scroll viewport fixed metrics and a clamped scrollTop. */
function stubScroll(element: HTMLElement, metrics: { scrollHeight: number, clientHeight: number }) {
  let top = 0
  Object.defineProperty(element, 'scrollHeight', { configurable: true, get: () => metrics.scrollHeight })
  Object.defineProperty(element, 'clientHeight', { configurable: true, get: () => metrics.clientHeight })
  Object.defineProperty(element, 'scrollTop', {
    configurable: true,
    get: () => top,
    set: (value: number) => (top = Math.max(0, Math.min(value, metrics.scrollHeight - metrics.clientHeight))),
  })
  return metrics
}

describe('MessageList', () => {
  it('renders markdown per agent and turn, and marks the running turn as streaming', () => {
    const wrapper = mount(MessageList, {
      props: {
        messages: [message(0, 'Hello **team**', 'planner'), message(0, 'Working…', 'coder'), message(1, 'Still', 'coder')],
        agentStates: [agentState({ agentId: 'coder', status: 'running', turn: 1 })],
      },
    })
    const items = wrapper.findAll('[data-testid="message"]')
    expect(items.map(item => [item.attributes('data-agent-id'), item.attributes('data-turn')])).toEqual([['planner', '0'], ['coder', '0'], ['coder', '1']])
    expect(items[0]!.find('h3').text()).toContain('planner')
    expect(items[0]!.find('strong').text()).toBe('team')
    expect(items.map(item => item.attributes('aria-busy'))).toEqual([undefined, undefined, 'true'])
    expect(items[2]!.classes()).toContain('continued')
  })

  it('grows the streaming message as tokens arrive', async () => {
    const wrapper = mount(MessageList, { props: { messages: [message(0, 'Hel')] } })
    await wrapper.setProps({ messages: [message(0, 'Hello wor')] })
    await wrapper.setProps({ messages: [message(0, 'Hello world')] })
    expect(wrapper.get('[data-testid="message"] .markdown').text()).toBe('Hello world')
  })

  it('keeps the DOM bounded with 10,000 messages', async () => {
    const all = messages(10_000)
    const wrapper = mount(MessageList, { props: { messages: all, pageSize: 40 } })
    let rendered = wrapper.findAll('[data-testid="message"]')
    expect(rendered).toHaveLength(40)
    expect(rendered[39]!.attributes('data-turn')).toBe('9999')
    expect(wrapper.text()).toContain('(9960 not shown)')

    // Paging back is bounded too: never more than 3 pages at once.
    for (let i = 0; i < 10; i++) {
      const earlier = wrapper.findAll('button.page-button').find(button => button.text().startsWith('Show 40 earlier'))
      await earlier!.trigger('click')
    }
    rendered = wrapper.findAll('[data-testid="message"]')
    expect(rendered.length).toBeLessThanOrEqual(120)
    expect(rendered[0]!.attributes('data-turn')).toBe(String(10_000 - 40 * 11))
    expect(wrapper.findAll('button.page-button').some(button => button.text().startsWith('Show 40 newer'))).toBe(true)

    // New messages keep arriving: still bounded.
    await wrapper.setProps({ messages: [...all, ...messages(10_100).slice(10_000)] })
    expect(wrapper.findAll('[data-testid="message"]').length).toBeLessThanOrEqual(120)
  })

  it('follows new content at the bottom, stops when the reader scrolls up, and jumps back', async () => {
    const wrapper = mount(MessageList, { props: { messages: messages(5) }, attachTo: document.body })
    const viewport = wrapper.get('.viewport').element as HTMLElement
    const metrics = stubScroll(viewport, { scrollHeight: 2000, clientHeight: 500 })

    // Following: a new message and streamed growth both pin the view to the bottom.
    metrics.scrollHeight = 2100
    await wrapper.setProps({ messages: messages(6) })
    expect(viewport.scrollTop).toBe(1600)
    metrics.scrollHeight = 2200
    const grown = messages(6)
    grown[5] = { ...grown[5]!, text: `${grown[5]!.text} and more tokens` }
    await wrapper.setProps({ messages: grown })
    expect(viewport.scrollTop).toBe(1700)
    expect(wrapper.find('button.jump').exists()).toBe(false)

    // The reader scrolls up: no more auto-scroll, a "Jump to latest" button with a count instead.
    viewport.scrollTop = 900
    await wrapper.get('.viewport').trigger('scroll')
    expect(wrapper.find('button.jump').exists()).toBe(true)
    metrics.scrollHeight = 2400
    await wrapper.setProps({ messages: messages(8) })
    expect(viewport.scrollTop).toBe(900)
    expect(wrapper.get('button.jump').text()).toBe('Jump to latest · 2 new')

    await wrapper.get('button.jump').trigger('click')
    await new Promise(resolve => setTimeout(resolve))
    expect(viewport.scrollTop).toBe(1900)
    expect(wrapper.find('button.jump').exists()).toBe(false)
    expect(document.activeElement).toBe(viewport)
    expect(wrapper.emitted('update:following')).toEqual([[false], [true]])

    // Scrolling back down to the bottom by hand also resumes following.
    viewport.scrollTop = 1000
    await wrapper.get('.viewport').trigger('scroll')
    expect(wrapper.find('button.jump').exists()).toBe(true)
    viewport.scrollTop = 1900
    await wrapper.get('.viewport').trigger('scroll')
    expect(wrapper.find('button.jump').exists()).toBe(false)
    wrapper.unmount()
  })

  it('explains an empty session', () => {
    const wrapper = mount(MessageList, { props: { messages: [] } })
    expect(wrapper.text()).toContain('No messages yet')
  })
})
