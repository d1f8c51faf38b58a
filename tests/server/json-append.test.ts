import { describe, expect, it } from 'vitest'
import { encodeJsonAppend, sliceJsonAppend } from '../../server/streams/json'

/**
 * JSON mode's append encoding (PROTOCOL.md §9.1): each message keeps its exact source bytes,
 * comma-joined, with the byte offset where each one ends.
 */
const messagesOf = (body: string) => {
  const encoded = encodeJsonAppend(Buffer.from(body), false)!
  return Array.from({ length: encoded.count }, (_, i) => sliceJsonAppend(encoded.data, encoded.ends, i, i + 1).toString())
}

describe('encodeJsonAppend', () => {
  it('keeps a compact array\'s elements as they were written', () => {
    const encoded = encodeJsonAppend(Buffer.from('[{"a":1},[2,3],"x",12345678901234567890]'), false)!
    expect(encoded.data.toString()).toBe('{"a":1},[2,3],"x",12345678901234567890')
    expect(encoded.ends).toEqual([7, 13, 17])
    expect(encoded.count).toBe(4)
  })

  it('drops the whitespace between elements and keeps the whitespace inside them', () => {
    const encoded = encodeJsonAppend(Buffer.from('[ {"a" : 1} ,\n\t"b c" ,\r\n3 ]'), false)!
    expect(encoded.data.toString()).toBe('{"a" : 1},"b c",3')
    expect(encoded.ends).toEqual([9, 15])
  })

  it('is not fooled by brackets, commas and escaped quotes inside strings, or by multi-byte characters', () => {
    expect(messagesOf('["a,b]", "q\\"],[", {"k":"}{"}, "añ€😀", ["ü", {"x": ["é"]}]]'))
      .toEqual(['"a,b]"', '"q\\"],["', '{"k":"}{"}', '"añ€😀"', '["ü", {"x": ["é"]}]'])
    const encoded = encodeJsonAppend(Buffer.from('["ñ","x"]'), false)!
    expect(encoded.ends).toEqual([4])
  })

  it('takes a single value as one message, trimmed', () => {
    expect(messagesOf(' {"n": 1}\n')).toEqual(['{"n": 1}'])
    expect(messagesOf('"text"')).toEqual(['"text"'])
    expect(messagesOf('[7]')).toEqual(['7'])
  })

  it('refuses invalid JSON and an empty array (unless allowed), naming the problem', () => {
    expect(() => encodeJsonAppend(Buffer.from('[1,'), false)).toThrow(/not valid JSON/)
    expect(() => encodeJsonAppend(Buffer.from([0x5B, 0xFF, 0x5D]), false)).toThrow(/not valid UTF-8/)
    expect(() => encodeJsonAppend(Buffer.from('[]'), false)).toThrow(/Empty JSON array/)
    expect(encodeJsonAppend(Buffer.from(' [ ] '), true)).toBeUndefined()
  })

  it('copies the messages out of the request body', () => {
    const body = Buffer.from('[1,2]')
    const encoded = encodeJsonAppend(body, false)!
    body.fill(0x20)
    expect(encoded.data.toString()).toBe('1,2')
  })
})
