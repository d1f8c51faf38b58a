// Scripted language models for tests, on the AI SDK's own test model (ai/test). Plain ESM so
// that both the tests and the built server (NUXT_DURABLE_SESSIONS_AI_TEST_MODELS, test runs only) can load it.
import { simulateReadableStream } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'

/**
 * @typedef {{ text: string } | { reasoning: string } | { tool: string, input: Record<string, unknown> }} ScriptItem
 * A model step: what the model says and which tools it calls, in order.
 * @typedef {ScriptItem[]} ScriptStep
 */

export const PACED_ANSWER = 'Hello! I am the test model, answering one word at a time, so that two agents writing one answer at once would both be seen.'

/** The scenarios the built server can be given as NUXT_DURABLE_SESSIONS_AI_MODEL=test:<name>. */
export const SCENARIOS = {
  /** A slow answer, then a tool that needs approval, then a last line. */
  chat: {
    delayMs: 40,
    steps: approvedTerminalLine(words('Here is a deliberately slow answer, streamed one word at a time so that a page can be reloaded in the middle of it and still show every word exactly once when it is done.', 24)),
  },
  /**
   * The browser tests' answer: slow enough (about 3 s of words) that a page can be reloaded, or
   * the server killed, while it is being written; then the same approval tool and last line.
   */
  steady: {
    delayMs: 80,
    steps: approvedTerminalLine(words('Every word of this answer arrives on its own, so that the browser test can reload the chat page or kill the server while the agent is still writing, and then check that each word is shown once and none is missing.', 42)),
  },
  /** A short answer without tools. */
  quick: { delayMs: 0, steps: [[{ text: 'Hello! I am the test model.' }]] },
  /** An answer without tools that takes about a second: long enough to be seen while it is written. */
  paced: { delayMs: 30, steps: [[{ text: PACED_ANSWER }]] },
}

/** `text`, then the terminal tool (which waits for a collaborator's approval), then a last line. */
function approvedTerminalLine(text) {
  return [
    [{ text }, { tool: 'write_to_terminal', input: { text: 'hello from the AI agent' } }],
    [{ text: 'The line is in the terminal. Done.' }],
  ]
}

function words(sentence, count) {
  const list = sentence.split(' ')
  return Array.from({ length: count }, (_, i) => list[i % list.length]).join(' ')
}

/** The model of a named scenario (NUXT_DURABLE_SESSIONS_AI_MODEL=test:<name>). */
export function scenarioModel(name) {
  const scenario = SCENARIOS[name]
  if (!scenario) throw new Error(`Unknown test scenario ${JSON.stringify(name)}: one of ${Object.keys(SCENARIOS).join(', ')}`)
  return scriptedModel(scenario.steps, { delayMs: scenario.delayMs })
}

/**
 * A model that plays `steps`: the step it is on is the number of tool messages after the last
 * user message (each step that called tools is followed by their results). When the prompt ends
 * with part of the step's text already said (an answer continued after a restart), it says only
 * the rest, as a model continuing its answer would.
 * @param {ScriptStep[]} steps
 * @param {{ delayMs?: number, usage?: { input: number, output: number } }} [options]
 */
export function scriptedModel(steps, options = {}) {
  let calls = 0
  return new MockLanguageModelV4({
    provider: 'test',
    modelId: 'scripted',
    doStream: async ({ prompt }) => {
      const { step, said } = progressOf(prompt)
      const script = steps[Math.min(step, steps.length - 1)]
      const chunks = [{ type: 'stream-start', warnings: [] }]
      let remaining = said
      let toolCalls = 0
      calls++
      script.forEach((item, index) => {
        const id = `part-${calls}-${index}`
        if ('reasoning' in item) {
          if (said) return
          chunks.push({ type: 'reasoning-start', id }, ...tokens(item.reasoning).map(delta => ({ type: 'reasoning-delta', id, delta })), { type: 'reasoning-end', id })
        }
        else if ('text' in item) {
          let text = item.text
          if (remaining && text.startsWith(remaining)) {
            text = text.slice(remaining.length)
            remaining = ''
          }
          if (!text) return
          chunks.push({ type: 'text-start', id }, ...tokens(text).map(delta => ({ type: 'text-delta', id, delta })), { type: 'text-end', id })
        }
        else {
          toolCalls++
          chunks.push({ type: 'tool-call', toolCallId: `call-${step}-${index}-${calls}`, toolName: item.tool, input: JSON.stringify(item.input) })
        }
      })
      chunks.push({
        type: 'finish',
        finishReason: { unified: toolCalls > 0 ? 'tool-calls' : 'stop', raw: undefined },
        usage: {
          inputTokens: { total: options.usage?.input ?? 10, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
          outputTokens: { total: options.usage?.output ?? 20, text: undefined, reasoning: undefined },
        },
      })
      return { stream: simulateReadableStream({ chunks, initialDelayInMs: options.delayMs ?? 0, chunkDelayInMs: options.delayMs ?? 0 }) }
    },
  })
}

/** Words with their following space: how the text is streamed. */
function tokens(text) {
  return text.match(/\S+\s*|\s+/g) ?? []
}

/** Which step the conversation is at, and the text already said in it. */
function progressOf(prompt) {
  let lastUser = -1
  prompt.forEach((message, index) => { if (message.role === 'user') lastUser = index })
  const after = prompt.slice(lastUser + 1)
  const step = after.filter(message => message.role === 'tool').length
  let lastTool = -1
  after.forEach((message, index) => { if (message.role === 'tool') lastTool = index })
  const said = after.slice(lastTool + 1)
    .filter(message => message.role === 'assistant')
    .flatMap(message => typeof message.content === 'string' ? [message.content] : message.content.filter(part => part.type === 'text').map(part => part.text))
    .join('')
  return { step, said }
}
