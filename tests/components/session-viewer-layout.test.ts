// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import SessionViewerLayout from '../../components/session/SessionViewerLayout.vue'
import { agentState, messages, presence, terminalLine, toolCall, workflowEvent } from './fixtures'

const data = {
  title: 'Demo session',
  connectionState: 'live' as const,
  messages: messages(3),
  toolCalls: [toolCall('t1', 'running')],
  terminalLines: [terminalLine('l1', 'hello')],
  inputHistory: ['ls'],
  workflow: [workflowEvent('req-1', 'approval:requested', { title: 'Deploy' })],
  participants: [presence('u1', { displayName: 'Ada' }), presence('u2', { displayName: 'Bob', cursor: { x: 40, y: 900 } })],
  selfId: 'u1',
  agentStates: [agentState({ progress: 50 })],
  viewerUrl: '/sessions/s1',
  collaborateUrl: '/sessions/s1?key=k',
  embedUrl: '/embed/sessions/s1',
}

afterEach(() => {
  document.body.innerHTML = ''
})

describe('SessionViewerLayout', () => {
  it('renders the landmarks and every panel as a labelled section', () => {
    const wrapper = mount(SessionViewerLayout, { props: { ...data, canCollaborate: true } })
    expect(wrapper.find('header').exists()).toBe(true)
    expect(wrapper.get('main').findAll('section')).toHaveLength(1)
    expect(wrapper.get('aside').attributes('aria-label')).toBe('Session activity')
    const titles = wrapper.findAll('section[aria-labelledby]').map(section => wrapper.get(`#${section.attributes('aria-labelledby')}`).text())
    expect(titles.map(title => title.replace(/\s*\d+$/, ''))).toEqual(['Messages', 'Approvals', 'Tool calls', 'Terminal'])
    for (const id of ['connection-status', 'participant', 'message', 'tool-call', 'terminal-line', 'terminal-input', 'approve', 'reject'])
      expect(wrapper.find(`[data-testid="${id}"]`).exists(), id).toBe(true)
  })

  it('re-emits terminal input and approval decisions', async () => {
    const wrapper = mount(SessionViewerLayout, { props: { ...data, canCollaborate: true } })
    const input = wrapper.get('[data-testid="terminal-input"]')
    await input.setValue('npm test')
    await input.trigger('keydown', { key: 'Enter' })
    await wrapper.get('[data-testid="approve"]').trigger('click')
    await wrapper.get('[data-testid="decision-reason"]').setValue('Too risky')
    await wrapper.get('[data-testid="reject"]').trigger('click')
    expect(wrapper.emitted('terminal-submit')).toEqual([['npm test']])
    expect(wrapper.emitted('approve')).toEqual([['req-1', undefined]])
    expect(wrapper.emitted('reject')).toEqual([['req-1', 'Too risky']])
  })

  it('is read-only for viewers and once the session has ended', async () => {
    const viewer = mount(SessionViewerLayout, { props: { ...data, canCollaborate: false } })
    expect((viewer.get('[data-testid="terminal-input"]').element as HTMLInputElement).disabled).toBe(true)
    expect(viewer.find('[data-testid="approve"]').exists()).toBe(false)
    expect(viewer.text()).not.toContain('Copy collaborate link')

    const ended = mount(SessionViewerLayout, { props: { ...data, canCollaborate: true, connectionState: 'closed' } })
    expect((ended.get('[data-testid="terminal-input"]').element as HTMLInputElement).disabled).toBe(true)
    expect(ended.find('[data-testid="approve"]').exists()).toBe(false)
    expect(ended.find('[data-testid="session-ended"]').exists()).toBe(true)
  })

  it('shows only the chosen panels, without chrome, for embeds', () => {
    const wrapper = mount(SessionViewerLayout, { props: { ...data, canCollaborate: true, panels: ['terminal', 'tools'], chrome: false, theme: 'dark' } })
    expect(wrapper.get('.ds-theme').attributes('data-theme')).toBe('dark')
    expect(wrapper.find('[data-testid="message"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="approve"]').exists()).toBe(false)
    // Without messages, the first chosen panel takes <main>.
    expect(wrapper.get('main').find('[data-testid="tool-call"]').exists()).toBe(true)
    expect(wrapper.get('aside').find('[data-testid="terminal-input"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="copy-viewer-link"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="embed-button"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="connection-status"]').exists()).toBe(true)
  })

  it('uses a single column with just the messages', () => {
    const wrapper = mount(SessionViewerLayout, { props: { ...data, panels: ['messages'] } })
    expect(wrapper.find('aside').exists()).toBe(false)
    expect(wrapper.get('.ds-theme').classes()).toContain('single-column')
  })

  it('draws the other participants\' cursors over the page', async () => {
    const wrapper = mount(SessionViewerLayout, { props: data, attachTo: document.body })
    await wrapper.vm.$nextTick()
    const cursors = document.querySelectorAll('[data-testid="remote-cursor"]')
    expect(cursors).toHaveLength(1)
    wrapper.unmount()
  })
})
