import { isUtf8 } from 'node:buffer'
import { badRequest } from './errors'

const WHITESPACE = new Set([' ', '\t', '\n', '\r'])

/**
 * JSON mode (PROTOCOL.md §9.1): validates a body and flattens one level of array.
 * Each element keeps its exact source text, so numbers beyond 2^53 and key order survive.
 * Returns the messages to store; an empty array is allowed only when `allowEmpty` (PUT).
 */
export function splitJsonMessages(body: Buffer, allowEmpty: boolean): Buffer[] {
  if (!isUtf8(body)) throw badRequest('Body is not valid UTF-8 JSON')
  const text = body.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  }
  catch (error) {
    const reason = error instanceof RangeError ? 'nested too deeply' : (error as Error).message
    throw badRequest(`Body is not valid JSON: ${reason}`)
  }
  if (!Array.isArray(value)) return [Buffer.from(trimJsonWhitespace(text))]
  if (value.length === 0) {
    if (allowEmpty) return []
    throw badRequest('Empty JSON array: an append must carry at least one message')
  }
  return topLevelElements(text).map(element => Buffer.from(element))
}

/** Slices the elements of a JSON array text that JSON.parse has already accepted. */
function topLevelElements(text: string): string[] {
  const elements: string[] = []
  let depth = 0
  let inString = false
  let elementStart = -1
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!
    if (inString) {
      if (char === '\\') i++
      else if (char === '"') inString = false
      continue
    }
    if (char === '"') {
      inString = true
    }
    else if (char === '[' || char === '{') {
      depth++
      if (depth === 1) elementStart = i + 1
    }
    else if (char === ']' || char === '}') {
      if (depth === 1) elements.push(text.slice(elementStart, i))
      depth--
    }
    else if (char === ',' && depth === 1) {
      elements.push(text.slice(elementStart, i))
      elementStart = i + 1
    }
  }
  return elements.map(trimJsonWhitespace)
}

function trimJsonWhitespace(element: string): string {
  let start = 0
  let end = element.length
  while (start < end && WHITESPACE.has(element[start]!)) start++
  while (end > start && WHITESPACE.has(element[end - 1]!)) end--
  return element.slice(start, end)
}
