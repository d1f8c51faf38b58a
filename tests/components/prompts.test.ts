// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import MessageList from '../../components/session/MessageList.vue'
import PromptBox from '../../components/session/PromptBox.vue'
import SessionViewerLayout from '../../components/session/SessionViewerLayout.vue'
import type { Prompt } from '../../shared/sessions/channels'
import { at, message } from './fixtures'

function prompt(id: string, text: string, extra: Partial<Prompt> = {}): Prompt {
  return { id, sessionId: 's1', text, actor: 'Ada', actorId: 'u1', timestamp: at(0), ...extra }
}

describe('PromptBox', () => {
  it('sends the trimmed text on Enter and clears; Shift+Enter is a new line; empty text is not sent', async () => {
    const wrapper = mount(PromptBox, { props: { canWrite: true } })
    const input = wrapper.get('[data-testid="prompt-input"]')
    await input.setValue('   ')
    await input.trigger('keydown', { key: 'Enter' })
    await input.setValue('  Why is the build red?  ')
    await input.trigger('keydown', { key: 'Enter', shiftKey: true })
    expect(wrapper.emitted('submit')).toBeUndefined()
    await input.trigger('keydown', { key: 'Enter' })
    expect(wrapper.emitted('submit')).toEqual([['Why is the build red?']])
    expect((input.element as HTMLTextAreaElement).value).toBe('')
  })

  it('is disabled for a viewer and says why; sends nothing', async () => {
    const wrapper = mount(PromptBox, { props: { canWrite: false } })
    const input = wrapper.get('[data-testid="prompt-input"]')
    expect(input.attributes('disabled')).toBeDefined()
    expect(wrapper.find('[data-testid="prompt-send"]').exists()).toBe(false)
    const hint = wrapper.get('[data-testid="prompt-read-only"]')
    expect(input.attributes('aria-describedby')).toBe(hint.attributes('id'))
    expect(hint.text()).toContain('Open a collaborate link to message the agent')
    await wrapper.get('form').trigger('submit')
    expect(wrapper.emitted('submit')).toBeUndefined()
  })

  it('shows why the last prompt was rolled back', () => {
    const wrapper = mount(PromptBox, { props: { canWrite: true, rollbackError: 'Only collaborators may post prompts' } })
    expect(wrapper.get('[data-testid="prompt-error"]').text()).toBe('Prompt not sent: Only collaborators may post prompts')
  })
})

describe('MessageList with the conversation', () => {
  it('puts prompts among the messages in conversation order, named, as plain text (never HTML)', () => {
    const hostile = '<img src=x onerror="alert(1)"> **not bold**'
    const wrapper = mount(MessageList, {
      props: {
        messages: [message(0, 'First answer'), message(1, 'Second answer')],
        prompts: [prompt('p1', 'First question', { actor: 'Ada' }), prompt('p2', hostile, { actor: 'Bob', actorId: 'u2' })],
        conversation: [
          { kind: 'prompt', id: 'p1' },
          { kind: 'message', id: 'agent-1:0' },
          { kind: 'prompt', id: 'p2' },
          { kind: 'message', id: 'agent-1:1' },
        ],
      },
    })
    const rows = wrapper.findAll('[data-testid="prompt"], [data-testid="message"]')
    expect(rows.map(row => row.attributes('data-testid'))).toEqual(['prompt', 'message', 'prompt', 'message'])
    expect(rows.map(row => row.find('[data-testid="prompt-author"]').exists() ? row.get('[data-testid="prompt-author"]').text() : row.attributes('data-turn'))).toEqual(['Ada', '0', 'Bob', '1'])
    const text = wrapper.findAll('[data-testid="prompt-text"]')[1]!
    expect(text.text()).toBe(hostile)
    expect(text.find('img').exists()).toBe(false)
    expect(text.find('strong').exists()).toBe(false)
    // An answer after a prompt is not a continuation of the agent's previous message.
    expect(rows[3]!.classes()).not.toContain('continued')
  })

  it('without a conversation shows the messages alone, as before', () => {
    const wrapper = mount(MessageList, { props: { messages: [message(0, 'Only me')], prompts: [prompt('p1', 'Ignored')] } })
    expect(wrapper.findAll('[data-testid="prompt"]')).toHaveLength(0)
    expect(wrapper.findAll('[data-testid="message"]')).toHaveLength(1)
  })
})

describe('SessionViewerLayout prompt box', () => {
  const base = { title: 'S', connectionState: 'live' as const, messages: [message(0, 'Hi')] }

  it('re-emits a collaborator\'s prompt; the app page shows viewers the box disabled', async () => {
    const collaborator = mount(SessionViewerLayout, { props: { ...base, canCollaborate: true } })
    await collaborator.get('[data-testid="prompt-input"]').setValue('Deploy it')
    await collaborator.get('[data-testid="prompt-box"]').trigger('submit')
    expect(collaborator.emitted('prompt-submit')).toEqual([['Deploy it']])

    const viewer = mount(SessionViewerLayout, { props: { ...base, canCollaborate: false, chatUrl: '/sessions/s1/chat' } })
    expect(viewer.get('[data-testid="prompt-input"]').attributes('disabled')).toBeDefined()
    expect(viewer.get('[data-testid="open-chat"]').attributes('href')).toBe('/sessions/s1/chat')
  })

  it('a read-only embed has no prompt box; a closed session disables it', () => {
    expect(mount(SessionViewerLayout, { props: { ...base, chrome: false } }).find('[data-testid="prompt-box"]').exists()).toBe(false)
    // An interactive embed has the box, without app links.
    const embed = mount(SessionViewerLayout, { props: { ...base, chrome: false, canCollaborate: true, chatUrl: '/sessions/s1/chat' } })
    expect(embed.find('[data-testid="prompt-box"]').exists()).toBe(true)
    expect(embed.find('[data-testid="open-chat"]').exists()).toBe(false)
    const closed = mount(SessionViewerLayout, { props: { ...base, canCollaborate: true, connectionState: 'closed' } })
    expect(closed.get('[data-testid="prompt-input"]').attributes('disabled')).toBeDefined()
  })
})
