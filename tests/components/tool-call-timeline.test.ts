// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import ToolCallTimeline from '../../components/session/ToolCallTimeline.vue'
import { formatDuration } from '../../utils/format'
import { toolCall } from './fixtures'

describe('ToolCallTimeline', () => {
  it('shows each call with its status attribute, badge and duration', () => {
    const wrapper = mount(ToolCallTimeline, {
      props: {
        toolCalls: [
          toolCall('a', 'pending'),
          toolCall('b', 'running'),
          toolCall('c', 'complete', { duration: 1234, output: { ok: true } }),
          toolCall('d', 'error', { duration: 80, output: { message: 'ENOENT' } }),
        ],
      },
    })
    const items = wrapper.findAll('[data-testid="tool-call"]')
    expect(items.map(item => item.attributes('data-status'))).toEqual(['pending', 'running', 'complete', 'error'])
    expect(items.map(item => item.find('.badge').text())).toEqual(['Pending', 'Running', 'Complete', 'Error'])
    expect(items[2]!.text()).toContain('1.2 s')
    expect(items[3]!.text()).toContain('80 ms')
  })

  it('expands and collapses input and output JSON as text', async () => {
    const wrapper = mount(ToolCallTimeline, {
      props: { toolCalls: [toolCall('a', 'complete', { input: { html: '<img src=x onerror=alert(1)>' }, output: { lines: 2 } })] },
    })
    const toggle = wrapper.get('[data-testid="tool-call"] button.summary')
    expect(toggle.attributes('aria-expanded')).toBe('false')
    expect(wrapper.find('pre').exists()).toBe(false)

    await toggle.trigger('click')
    expect(toggle.attributes('aria-expanded')).toBe('true')
    expect(wrapper.find(`#${toggle.attributes('aria-controls')}`).exists()).toBe(true)
    const [input, output] = wrapper.findAll('pre')
    expect(input!.text()).toBe(JSON.stringify({ html: '<img src=x onerror=alert(1)>' }, null, 2))
    expect(output!.text()).toBe('{\n  "lines": 2\n}')
    expect(wrapper.find('img').exists()).toBe(false)

    await toggle.trigger('click')
    expect(toggle.attributes('aria-expanded')).toBe('false')
    expect(wrapper.find('pre').exists()).toBe(false)
  })

  it('says when a running call has no output yet, and updates in place', async () => {
    const wrapper = mount(ToolCallTimeline, { props: { toolCalls: [toolCall('a', 'running')] } })
    await wrapper.get('button.summary').trigger('click')
    expect(wrapper.text()).toContain('Waiting for the result…')
    await wrapper.setProps({ toolCalls: [toolCall('a', 'complete', { output: 'done', duration: 2500 })] })
    // Same item (keyed by id): still expanded, now with the output.
    expect(wrapper.get('[data-testid="tool-call"]').attributes('data-status')).toBe('complete')
    expect(wrapper.findAll('pre')[1]!.text()).toBe('"done"')
  })

  it('cuts very large JSON until asked', async () => {
    const big = 'x'.repeat(50_000)
    const wrapper = mount(ToolCallTimeline, { props: { toolCalls: [toolCall('a', 'complete', { output: big })] } })
    await wrapper.get('button.summary').trigger('click')
    expect(wrapper.findAll('pre')[1]!.text().length).toBeLessThan(21_000)
    await wrapper.get('button.show-full').trigger('click')
    expect(wrapper.findAll('pre')[1]!.text().length).toBe(50_002)
  })
})

describe('formatDuration', () => {
  it('formats milliseconds for people', () => {
    expect(formatDuration(0)).toBe('0 ms')
    expect(formatDuration(999)).toBe('999 ms')
    expect(formatDuration(1234)).toBe('1.2 s')
    expect(formatDuration(9_990)).toBe('9.9 s')
    expect(formatDuration(42_000)).toBe('42 s')
    expect(formatDuration(65_000)).toBe('1 min 5 s')
    expect(formatDuration(3_720_000)).toBe('1 h 2 min')
    expect(formatDuration(undefined)).toBe('')
    expect(formatDuration(-1)).toBe('')
  })
})
