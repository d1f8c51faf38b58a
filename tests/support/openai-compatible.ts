import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A local OpenAI-compatible Chat Completions server, as Ollama, vLLM or LM Studio serve one:
 * `POST /v1/chat/completions` with `stream: true` answers Server-Sent Events of
 * `chat.completion.chunk`s. Its first answer calls a tool; once the request carries the tool's
 * result it answers with text that quotes it.
 */
export interface ChatCompletionsServer {
  /** The base URL a client is given (NUXT_DURABLE_SESSIONS_AI_BASE_URL). */
  baseUrl: string
  /** The JSON bodies and Authorization headers it received. */
  requests: { body: any, authorization: string | undefined }[]
  close: () => Promise<void>
}

export async function startChatCompletionsServer(): Promise<ChatCompletionsServer> {
  const requests: ChatCompletionsServer['requests'] = []
  const server = createServer((req, res) => {
    let raw = ''
    req.setEncoding('utf8').on('data', (part: string) => { raw += part }).on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${req.url}` } }))
        return
      }
      const body = JSON.parse(raw)
      requests.push({ body, authorization: req.headers.authorization })
      const toolResult = [...body.messages].reverse().find((message: { role: string }) => message.role === 'tool')
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      const send = (chunk: unknown) => res.write(`data: ${JSON.stringify(chunk)}\n\n`)
      const frame = (delta: unknown, finish: string | null = null) => ({
        id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1_700_000_000, model: body.model,
        choices: [{ index: 0, delta, finish_reason: finish }],
      })
      if (!toolResult) {
        send(frame({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_time', type: 'function', function: { name: 'current_time', arguments: '' } }] }))
        send(frame({ tool_calls: [{ index: 0, function: { arguments: '{}' } }] }))
        send(frame({}, 'tool_calls'))
      }
      else {
        const { now } = JSON.parse(typeof toolResult.content === 'string' ? toolResult.content : JSON.stringify(toolResult.content))
        for (const piece of ['The tool says ', `it is ${now}`, '.'])
          send(frame({ role: 'assistant', content: piece }))
        send(frame({}, 'stop'))
      }
      send({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1_700_000_000, model: body.model, choices: [], usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 } })
      res.end('data: [DONE]\n\n')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}
