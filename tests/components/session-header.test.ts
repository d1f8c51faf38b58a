// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import SessionHeader from '../../components/session/SessionHeader.vue'
import { agentState, presence } from './fixtures'

const base = { title: 'Refactor the store', connectionState: 'live' as const }

beforeEach(() => {
  // A real origin, so relative share links become absolute as in the browser.
  ;(window as unknown as { happyDOM: { setURL: (url: string) => void } }).happyDOM.setURL('https://viewer.test/sessions/s1')
})

afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('connection badge', () => {
  it('carries the state for tests and people', () => {
    for (const state of ['connecting', 'live', 'reconnecting', 'closed', 'error'] as const) {
      const wrapper = mount(SessionHeader, { props: { ...base, connectionState: state } })
      const badge = wrapper.get('[data-testid="connection-status"]')
      expect(badge.attributes('data-state')).toBe(state)
      expect(badge.text()).not.toBe('')
      expect(badge.text()).not.toContain('Connection:')
    }
  })

  it('counts down to the next retry', async () => {
    vi.useFakeTimers()
    vi.setSystemTime(new Date('2026-11-26T10:00:00Z'))
    const wrapper = mount(SessionHeader, { props: { ...base, connectionState: 'reconnecting', nextRetryAt: Date.now() + 3000 } })
    await flushPromises()
    const label = () => wrapper.get('[data-testid="connection-status"] .label').text()
    expect(label()).toBe('Reconnecting in 3 s')
    expect(wrapper.get('[data-testid="connection-banner"]').text()).toContain('Reconnecting in 3 s')
    await vi.advanceTimersByTimeAsync(1000)
    expect(label()).toBe('Reconnecting in 2 s')
    await vi.advanceTimersByTimeAsync(2000)
    expect(label()).toBe('Reconnecting now…')
    // The countdown is never announced; only the state is.
    expect(wrapper.get('[role="status"]').text()).toBe('Connection: Reconnecting…')

    await wrapper.setProps({ connectionState: 'live', nextRetryAt: null })
    expect(label()).toBe('Live')
    expect(wrapper.find('[data-testid="connection-banner"]').exists()).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('shows an ended banner when the session is closed, and a retry button when offline', async () => {
    const wrapper = mount(SessionHeader, { props: { ...base, connectionState: 'closed' } })
    expect(wrapper.get('[data-testid="session-ended"]').text()).toContain('This session has ended.')
    await wrapper.setProps({ connectionState: 'error' })
    await wrapper.get('[data-testid="connection-banner"] button').trigger('click')
    expect(wrapper.emitted('reconnect')).toHaveLength(1)
  })
})

describe('agent status', () => {
  it('shows status, current tool and a progress bar', () => {
    const wrapper = mount(SessionHeader, { props: { ...base, agentStates: [agentState({ progress: 42.4, currentTool: 'edit_file', message: 'Editing' })] } })
    const agent = wrapper.get('[data-testid="agent-status"]')
    expect(agent.text()).toContain('Working')
    expect(agent.text()).toContain('using edit_file')
    const bar = agent.get('[role="progressbar"]')
    expect(bar.attributes('aria-valuenow')).toBe('42')
    expect(agent.get('.fill').attributes('style')).toContain('42%')
  })

  it('uses an indeterminate bar when running without progress', () => {
    const wrapper = mount(SessionHeader, { props: { ...base, agentStates: [agentState()] } })
    const bar = wrapper.get('[role="progressbar"]')
    expect(bar.attributes('aria-valuenow')).toBeUndefined()
    expect(bar.attributes('aria-valuetext')).toBe('In progress')
  })
})

describe('participants', () => {
  it('renders avatars with initials, loading only http(s) images', () => {
    const wrapper = mount(SessionHeader, {
      props: {
        ...base,
        selfId: 'u1',
        participants: [
          presence('u1', { displayName: 'Ada Lovelace' }),
          presence('u2', { displayName: 'Grace', avatarUrl: 'https://avatars.test/g.png' }),
          presence('u3', { displayName: 'Mallory', avatarUrl: 'javascript:alert(1)' }),
        ],
      },
    })
    const people = wrapper.findAll('[data-testid="participant"]')
    expect(people).toHaveLength(3)
    expect(people[0]!.text()).toBe('AL')
    expect(people[0]!.get('[role="img"]').attributes('aria-label')).toBe('Ada Lovelace (you)')
    expect(people[1]!.get('img').attributes('src')).toBe('https://avatars.test/g.png')
    expect(people[2]!.find('img').exists()).toBe(false)
    expect(people[2]!.text()).toBe('MA')
  })

  it('falls back to initials when an image fails', async () => {
    const wrapper = mount(SessionHeader, { props: { ...base, participants: [presence('u2', { displayName: 'Grace Hopper', avatarUrl: 'https://avatars.test/404.png' })] } })
    await wrapper.get('img').trigger('error')
    expect(wrapper.find('img').exists()).toBe(false)
    expect(wrapper.get('[data-testid="participant"]').text()).toBe('GH')
  })
})

describe('share actions', () => {
  const links = { viewerUrl: '/sessions/s1', collaborateUrl: '/sessions/s1?key=secret', embedUrl: '/embed/sessions/s1' }

  it('offers the collaborate link only to collaborators, and nothing without chrome', () => {
    const viewer = mount(SessionHeader, { props: { ...base, ...links, canCollaborate: false } })
    expect(viewer.text()).toContain('Copy viewer link')
    expect(viewer.text()).not.toContain('Copy collaborate link')
    const collaborator = mount(SessionHeader, { props: { ...base, ...links, canCollaborate: true } })
    expect(collaborator.text()).toContain('Copy collaborate link')
    const embed = mount(SessionHeader, { props: { ...base, ...links, canCollaborate: true, chrome: false } })
    expect(embed.findAll('button')).toHaveLength(0)
    expect(embed.find('[data-testid="connection-status"]').exists()).toBe(true)
  })

  it('copies the absolute link and announces it', async () => {
    const writeText = vi.fn().mockResolvedValue(undefined)
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } })
    const wrapper = mount(SessionHeader, { props: { ...base, ...links, canCollaborate: true } })
    await flushPromises() // mounted: the origin is known
    await wrapper.get('[data-testid="copy-collaborate-link"] button').trigger('click')
    await flushPromises()
    expect(writeText).toHaveBeenCalledWith('https://viewer.test/sessions/s1?key=secret')
    const copy = wrapper.get('[data-testid="copy-collaborate-link"]')
    expect(copy.get('button').text()).toBe('Copied')
    expect(copy.get('[aria-live="polite"]').text()).toBe('Copied')
  })

  it('falls back to execCommand when the Clipboard API is refused', async () => {
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText: vi.fn().mockRejectedValue(new Error('denied')) } })
    const execCommand = vi.fn().mockReturnValue(true)
    Object.defineProperty(document, 'execCommand', { configurable: true, value: execCommand })
    const wrapper = mount(SessionHeader, { props: { ...base, ...links } })
    await wrapper.get('[data-testid="copy-viewer-link"] button').trigger('click')
    await flushPromises()
    expect(execCommand).toHaveBeenCalledWith('copy')
    expect(wrapper.get('[data-testid="copy-viewer-link"] [aria-live]').text()).toBe('Copied')
    expect(document.querySelector('textarea')).toBeNull()
    Reflect.deleteProperty(document, 'execCommand')
  })

  it('opens an accessible embed dialog with an escaped, copyable snippet', async () => {
    const wrapper = mount(SessionHeader, { props: { ...base, ...links, title: 'Fix "quotes" <b>' }, attachTo: document.body })
    const opener = wrapper.get('[data-testid="embed-button"]')
    ;(opener.element as HTMLElement).focus()
    await opener.trigger('click')
    await flushPromises()
    const dialog = wrapper.get('[role="dialog"]')
    expect(dialog.attributes('aria-modal')).toBe('true')
    expect(wrapper.get(`#${dialog.attributes('aria-labelledby')}`).text()).toBe('Embed this session')
    expect(dialog.element.contains(document.activeElement)).toBe(true)

    const snippet = () => wrapper.get('[data-testid="embed-snippet"]').text()
    expect(snippet()).toBe('<iframe src="https://viewer.test/embed/sessions/s1" title="Agent session: Fix &quot;quotes&quot; &lt;b&gt;" width="100%" height="600" style="border:0;border-radius:8px" loading="lazy" allow="clipboard-write"></iframe>')
    await wrapper.get('input[value="terminal"]').setValue(false)
    await wrapper.get('input[value="dark"]').setValue(true)
    expect(snippet()).toContain('src="https://viewer.test/embed/sessions/s1?panels=messages%2Ctools%2Capprovals&amp;theme=dark"')

    await dialog.trigger('keydown', { key: 'Escape' })
    await flushPromises()
    expect(wrapper.find('[role="dialog"]').exists()).toBe(false)
    expect(document.activeElement).toBe(opener.element)
    wrapper.unmount()
  })

  it('keeps Tab inside the dialog', async () => {
    const wrapper = mount(SessionHeader, { props: { ...base, ...links }, attachTo: document.body })
    await wrapper.get('[data-testid="embed-button"]').trigger('click')
    await flushPromises()
    const dialog = wrapper.get('[role="dialog"]')
    const focusables = dialog.findAll('button, input, [tabindex="0"]')
    const last = focusables[focusables.length - 1]!.element as HTMLElement
    last.focus()
    await dialog.trigger('keydown', { key: 'Tab' })
    expect(document.activeElement).toBe(focusables[0]!.element)
    await dialog.trigger('keydown', { key: 'Tab', shiftKey: true })
    expect(document.activeElement).toBe(last)
    wrapper.unmount()
  })
})
