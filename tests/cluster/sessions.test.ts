import { beforeAll, expect, it } from 'vitest'
import { useBrowser, waitForCount } from '../support/browser'
import { useCluster } from '../support/cluster'
import type { TestServer } from '../support/server'
import { SESSION_TEST_ENV, api, as, createSession, details, eventually, joinPresence, postPresence, publish, streamMessages, withPresenceKey } from '../support/sessions'

/**
 * The session API end to end across two instances on one PostgreSQL database, in real
 * Chromium: a session created and written on instance A is rendered by instance B (server-side,
 * before any script) and goes live there; presence joined on either is seen on both; an
 * approval requested through A is decided in B's page and lands once in the stream.
 */

const e2e = useBrowser()
const cluster = useCluster(2, { env: SESSION_TEST_ENV })
let a: TestServer
let b: TestServer
beforeAll(() => {
  ;[a, b] = cluster.servers as [TestServer, TestServer]
})

const chunk = (agentId: string, text: string) => ({ channel: 'chunks', data: { agentId, text } })

it('created and written on A, rendered by B and live there; presence from both; an approval decided through B', { timeout: 90_000 }, async () => {
  const session = await createSession(a, { title: 'Across instances' })
  await publish(a, session, [chunk(session.agentId, 'written on A before anyone looked'), { channel: 'terminal', data: { type: 'output', source: 'agent', data: 'npm test: 5 passed' } }])

  // B renders what A wrote into the HTML, before any script runs.
  const html = await (await fetch(`${b.url}/sessions/${session.id}`, { headers: { accept: 'text/html' } })).text()
  expect(html).toContain('written on A before anyone looked')
  expect(html).toContain('npm test: 5 passed')

  // A collaborator opens the page on B and is live from the offset B rendered at.
  const page = await e2e.newPage()
  await page.goto(`${b.url}/sessions/${session.id}?key=${encodeURIComponent(session.collaboratorKey)}`)
  await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor()
  await publish(a, session, chunk(session.agentId, 'written on A while B\'s reader watches'))
  await page.getByText('written on A while B\'s reader watches').waitFor()
  expect(await page.getByText('written on A before anyone looked').count()).toBe(1)

  // Presence: someone joins through A; the page on B (joined through B) sees both…
  const { presenceKey } = await joinPresence(a, session, 'joined-on-a', { displayName: 'Joined on A' })
  await waitForCount(page.getByTestId('participant'), 2, 'the page on B shows its own user and the one who joined on A')
  // …and A knows the page's user, whose join went to B.
  const pageUser = await eventually(async () => (await page.evaluate(() => localStorage.getItem('durable-sessions:identity:user-id'))) || undefined, 'the page has a user id', 10_000)
  await eventually(async () => (await details(a, session.id)).presence.some(entry => entry.userId === pageUser) || undefined, 'A lists the page\'s user', 10_000)
  // The key issued by A works on B: both instances derive it from the one server token.
  expect((await postPresence(b, session, { userId: 'joined-on-a', action: 'heartbeat' }, withPresenceKey(presenceKey))).status).toBe(200)

  // An approval requested through A, decided in the page served by B.
  await publish(a, session, { channel: 'workflow', data: { type: 'approval:requested', payload: { title: 'Merge across instances' }, actor: session.agentId } })
  const approve = page.getByTestId('approve')
  await approve.waitFor()
  const requestId = await page.locator('[data-request-id]').filter({ has: approve }).getAttribute('data-request-id')
  await approve.click()
  // The page shows the decision at once (optimistic); the stream has it once the POST to B is done.
  const decisions = await eventually(async () => {
    const found = (await streamMessages(a, `sessions/${session.id}`))
      .filter(message => message.type === 'workflow' && String(message.value?.type).startsWith('approval:') && message.value?.type !== 'approval:requested')
    return found.length > 0 ? found : undefined
  }, 'the decision made on B\'s page is in the stream, read through A', 10_000)
  expect(decisions).toHaveLength(1)
  expect(decisions[0]!.value).toMatchObject({ type: 'approval:approved', payload: { requestId }, actorId: pageUser })
  // A second decision on A is refused: it was decided once, whichever instance it reached.
  const again = await api(a, 'POST', `/api/sessions/${session.id}/events`, {
    json: { channel: 'workflow', data: { type: 'approval:rejected', payload: { requestId } } },
    headers: as('collaborator', session, a),
  })
  expect(again.status).toBe(409)
})

it('finds sessions by title whatever the case, in the public list and a browser\'s own lookup, as SQLite does', async () => {
  const listed = await createSession(a, { title: 'Refactor the Cart', public: true })
  const own = await createSession(b, { title: 'Fix the flaky CHECKOUT test' })
  const found = await api(b, 'GET', `/api/sessions?q=${encodeURIComponent('refactor the cart')}`)
  expect(found.body.sessions.map((session: { id: string }) => session.id)).toEqual([listed.id])
  const lookup = await api(a, 'POST', '/api/sessions/lookup', { json: { ids: [listed.id, own.id], q: 'checkout' } })
  expect(lookup.body.sessions.map((session: { id: string }) => session.id)).toEqual([own.id])
})
