/**
 * A random id from `crypto.getRandomValues`, which browsers offer on plain-http pages too
 * (`crypto.randomUUID` only exists in secure contexts).
 */
export function randomId(bytes = 16): string {
  const values = crypto.getRandomValues(new Uint8Array(bytes))
  let id = ''
  for (const value of values) id += value.toString(16).padStart(2, '0')
  return id
}
