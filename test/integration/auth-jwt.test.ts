/**
 * JWT authentication and role-based access, end to end with the real providers: every
 * credential source on both protocols, the refusals (expired, not yet valid, wrong signature,
 * issuer, audience, missing), document-limited tokens, roles deciding out of the box (an
 * editor's new document stays open to viewers and other editors; ACCESS_POLICY=grants makes it
 * private), viewers, a PEM key and a rotating JWKS.
 * Refusals are checked on the wire (close code, permission-denied message) and in the log,
 * which must never contain the token.
 */
import { createServer as createHttpServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { decoding } from 'lib0'
import { destroyClients, hocus, raw, synced, text, yws } from '../helpers/clients.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256'
const now = (): number => Math.floor(Date.now() / 1000)

async function hs256 (claims: JWTPayload, secret = SECRET): Promise<string> {
  return await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret))
}

const servers: TestServer[] = []
const httpServers: Server[] = []
afterEach(async () => {
  destroyClients()
  for (const s of servers.splice(0)) await s.close()
  for (const h of httpServers.splice(0)) await new Promise((resolve) => h.close(resolve))
})

async function jwtServer (env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startServer({ env: { JWT_SECRET: SECRET, ...env } })
  servers.push(server)
  return server
}

/** The y-websocket permission-denied message: [2 auth, 0 denied, reason]. */
function deniedReason (frame: Uint8Array): string | null {
  const d = decoding.createDecoder(frame)
  if (decoding.readVarUint(d) !== 2 || decoding.readVarUint(d) !== 0) return null
  return decoding.readVarString(d)
}

/** Connects a raw y-websocket client and waits for the server to refuse it. */
async function refusedYws (server: TestServer, doc: string, opts: { query?: string, headers?: Record<string, string> } = {}): Promise<{ code: number, denied: string | null }> {
  const client = await raw(`${server.url}/${doc}${opts.query === undefined ? '' : `?token=${opts.query}`}`, { headers: opts.headers ?? {} })
  const { code } = await client.closed
  return { code, denied: client.frames.map(deniedReason).find((r) => r !== null) ?? null }
}

const logText = (server: TestServer): string => JSON.stringify(server.logs)

describe('JWT credentials', () => {
  it('accepts a token from ?token= (y-websocket), the Hocuspocus token, a Bearer header and a cookie', async () => {
    const server = await jwtServer({ JWT_COOKIE: 'app_token' })
    const token = await hs256({ sub: 'ann', role: 'editor', exp: now() + 60 })
    const byQuery = yws(server.url, 'doc-a', { params: { token } })
    const byHocuspocus = hocus(server.url, 'doc-a', { token })
    const byBearer = yws(server.url, 'doc-a', { headers: { Authorization: `Bearer ${token}` } })
    const byCookie = yws(server.url, 'doc-a', { headers: { Cookie: `other=1; app_token=${token}` } })
    for (const c of [byQuery, byHocuspocus, byBearer, byCookie]) await synced(c.provider)
    byCookie.doc.getText('t').insert(0, 'hello')
    for (const c of [byQuery, byHocuspocus, byBearer]) await waitFor(() => text(c.doc) === 'hello', 'the edit to reach every client')
    const connected = server.logs.filter((l) => l.msg === 'connected')
    expect(connected.map((l) => l.userId)).toEqual(['ann', 'ann', 'ann', 'ann'])
    expect(logText(server)).not.toContain(token)
  })

  it('accepts a Bearer header, ?token= and a cookie on the Hocuspocus protocol too (token message empty)', async () => {
    const server = await jwtServer({ JWT_COOKIE: 'app_token' })
    const token = await hs256({ sub: 'hal', role: 'editor', exp: now() + 60 })
    const byBearer = hocus(server.url, 'doc-h', { token: '', headers: { Authorization: `Bearer ${token}` } })
    const byQuery = hocus(`${server.url}?token=${token}`, 'doc-h', { token: '' })
    const byCookie = hocus(server.url, 'doc-h', { token: '', headers: { Cookie: `app_token=${token}` } })
    for (const c of [byBearer, byQuery, byCookie]) await synced(c.provider)
    expect(server.logs.filter((l) => l.msg === 'connected').map((l) => l.userId)).toEqual(['hal', 'hal', 'hal'])
  })

  it('fails closed when the JWKS endpoint cannot be reached, and keeps serving', async () => {
    const server = await startServer({ env: { JWT_JWKS_URL: 'http://127.0.0.1:9/jwks.json' } })
    servers.push(server)
    const { privateKey } = await generateKeyPair('ES256')
    const token = await new SignJWT({ sub: 'ivy' }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setExpirationTime('1m').sign(privateKey)
    expect((await refusedYws(server, 'doc-j', { query: token })).code).toBe(4401)
    expect((await refusedYws(server, 'doc-j', { query: token })).code).toBe(4401)
    expect((await fetch(`${server.httpUrl}/health`)).status).toBe(200)
  })

  it.each([
    ['expired', async () => await hs256({ sub: 'bob', exp: now() - 120 }), 'expired'],
    ['not yet valid', async () => await hs256({ sub: 'bob', nbf: now() + 600, exp: now() + 900 }), 'nbf'],
    ['signed with another secret', async () => await hs256({ sub: 'bob', exp: now() + 60 }, 'another-secret-that-is-also-long-enough!'), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'],
    ['not a JWT', async () => 'not.a.jwt', 'ERR_JWS_INVALID'],
    ['without a user id', async () => await hs256({ role: 'editor', exp: now() + 60 }), 'no user id'],
    ['without exp (valid forever if it leaked)', async () => await hs256({ sub: 'bob' }), 'claim "exp" missing'],
    ['for a user id with a NUL in it (PostgreSQL cannot store it)', async () => await hs256({ sub: 'bo\u0000b', role: 'editor', exp: now() + 60 }), 'user id contains control characters'],
  ])('refuses a token that is %s: 4401 with a generic reason, the log says why without the token', async (_what, make, logged) => {
    const server = await jwtServer()
    const token = await make()
    const { code, denied } = await refusedYws(server, 'doc-b', { query: encodeURIComponent(token) })
    expect(code).toBe(4401)
    expect(denied).toBe('authentication failed')
    const line = server.logs.find((l) => l.msg === 'connection refused')
    expect(String(line?.reason)).toContain(logged)
    expect(line?.remoteAddress).toBe('127.0.0.1')
    expect(logText(server)).not.toContain(token)
  })

  it('names the user of an expired token in the log', async () => {
    const server = await jwtServer()
    await refusedYws(server, 'doc-b', { query: await hs256({ sub: 'carol', exp: now() - 120 }) })
    expect(server.logs.find((l) => l.msg === 'connection refused')?.userId).toBe('carol')
  })

  it('allows clock skew up to JWT_CLOCK_TOLERANCE_SEC', async () => {
    const server = await jwtServer({ JWT_CLOCK_TOLERANCE_SEC: '30' })
    const { provider } = yws(server.url, 'doc-c', { params: { token: await hs256({ sub: 'dan', exp: now() - 10 }) } })
    await synced(provider)
  })

  it('refuses a client that sends no credential at all, on both protocols', async () => {
    const server = await jwtServer()
    expect((await refusedYws(server, 'doc-d')).code).toBe(4401)
    const { provider } = hocus(server.url, 'doc-d', { token: '' })
    let reason: string | null = null
    provider.on('authenticationFailed', ({ reason: r }: { reason: string }) => { reason = r })
    await waitFor(() => reason !== null, 'the Hocuspocus provider to be refused')
    expect(reason).toBe('authentication failed')
  })

  it('checks iss and aud when configured', async () => {
    const server = await jwtServer({ JWT_ISSUER: 'https://app.example', JWT_AUDIENCE: 'collabd' })
    const good = await hs256({ sub: 'eve', iss: 'https://app.example', aud: 'collabd', exp: now() + 60 })
    await synced(yws(server.url, 'doc-e', { params: { token: good } }).provider)
    for (const bad of [{ iss: 'https://evil.example', aud: 'collabd' }, { iss: 'https://app.example', aud: 'other' }]) {
      expect((await refusedYws(server, 'doc-e', { query: await hs256({ sub: 'eve', ...bad, exp: now() + 60 }) })).code).toBe(4401)
    }
    const reasons = server.logs.filter((l) => l.msg === 'connection refused').map((l) => String(l.reason))
    expect(reasons[0]).toContain('"iss"')
    expect(reasons[1]).toContain('"aud"')
  })

  it('a token limited to some documents opens those and nothing else (4403)', async () => {
    const server = await jwtServer()
    const token = await hs256({ sub: 'fay', role: 'editor', documents: ['draft-1'], exp: now() + 60 })
    await synced(yws(server.url, 'draft-1', { params: { token } }).provider)
    expect((await refusedYws(server, 'draft-2', { query: token })).code).toBe(4403)
    const prefixed = await hs256({ sub: 'fay', role: 'editor', documentPrefix: 'firm-7/', exp: now() + 60 })
    await synced(yws(server.url, encodeURIComponent('firm-7/draft'), { params: { token: prefixed } }).provider)
    expect((await refusedYws(server, encodeURIComponent('firm-8/draft'), { query: prefixed })).code).toBe(4403)
  })
})

describe('roles', () => {
  const asEditor = async (sub: string): Promise<string> => await hs256({ sub, role: 'editor', exp: now() + 60 })
  const asViewer = async (sub: string): Promise<string> => await hs256({ sub, role: 'viewer', exp: now() + 60 })

  it('decide out of the box: an editor creates a document and types, then a viewer reads it and a second editor writes it', async () => {
    const server = await jwtServer()
    const ann = hocus(server.url, 'team-notes', { token: await asEditor('ann') })
    await synced(ann.provider)
    ann.doc.getText('t').insert(0, 'agenda')
    await waitFor(() => ann.provider.unsyncedChanges === 0, 'the creator\'s edit to be stored')
    const vicHp = hocus(server.url, 'team-notes', { token: await asViewer('vic') })
    let scope: string | null = null
    vicHp.provider.on('authenticated', ({ scope: s }: { scope: string }) => { scope = s })
    const vicYws = yws(server.url, 'team-notes', { params: { token: await asViewer('val') } })
    for (const c of [vicHp, vicYws]) await synced(c.provider)
    expect(scope).toBe('readonly')
    expect([text(vicHp.doc), text(vicYws.doc)]).toEqual(['agenda', 'agenda'])
    const bob = yws(server.url, 'team-notes', { params: { token: await asEditor('bob') } })
    await synced(bob.provider)
    bob.doc.getText('t').insert(6, ' and minutes')
    await waitFor(() => [ann, vicHp, vicYws].every((c) => text(c.doc) === 'agenda and minutes'), 'the second editor\'s edit to reach everyone')
    expect(server.logs.filter((l) => l.msg === 'connection refused' || l.msg === 'document refused')).toEqual([])
  })

  it('ACCESS_POLICY=grants makes a new document private to its creator: the viewer and the second editor are refused (4403)', async () => {
    const server = await jwtServer({ ACCESS_POLICY: 'grants' })
    const ann = hocus(server.url, 'ann-only', { token: await asEditor('ann') })
    await synced(ann.provider)
    ann.doc.getText('t').insert(0, 'mine')
    await waitFor(() => ann.provider.unsyncedChanges === 0, 'the creator\'s edit to be stored')
    expect((await refusedYws(server, 'ann-only', { query: await asViewer('vic') })).code).toBe(4403)
    expect((await refusedYws(server, 'ann-only', { query: await asEditor('bob') })).code).toBe(4403)
    expect(server.logs.filter((l) => l.msg === 'connection refused').map((l) => l.userId)).toEqual(['vic', 'bob'])
  })

  it('a viewer receives every edit and its writes change nothing for anyone, on both protocols', async () => {
    const server = await jwtServer()
    const editor = yws(server.url, 'shared', { params: { token: await hs256({ sub: 'ed', role: 'editor', exp: now() + 60 }) } })
    const viewerToken = await hs256({ sub: 'vi', role: 'viewer', exp: now() + 60 })
    const viewerYws = yws(server.url, 'shared', { params: { token: viewerToken } })
    const viewerHp = hocus(server.url, 'shared', { token: viewerToken })
    let scope: string | null = null
    viewerHp.provider.on('authenticated', ({ scope: s }: { scope: string }) => { scope = s })
    for (const c of [editor, viewerYws, viewerHp]) await synced(c.provider)
    expect(scope).toBe('readonly')
    editor.doc.getText('t').insert(0, 'by editor')
    await waitFor(() => text(viewerYws.doc) === 'by editor' && text(viewerHp.doc) === 'by editor', 'viewers to receive the edit')
    viewerYws.doc.getText('t').insert(0, 'Y!')
    viewerHp.doc.getText('t').insert(0, 'H!')
    await waitFor(() => server.logs.some((l) => l.msg === 'read-only connection sent an update; dropped'), 'the y-websocket viewer write to be dropped')
    // A later editor edit arrives, the viewers' never do.
    editor.doc.getText('t').insert(text(editor.doc).length, '.')
    const fresh = yws(server.url, 'shared', { params: { token: await hs256({ sub: 'ed2', role: 'owner', exp: now() + 60 }) } })
    await synced(fresh.provider)
    await waitFor(() => text(fresh.doc) === 'by editor.', 'a new client to see only the editor\'s text')
    expect(text(editor.doc)).toBe('by editor.')
  })

  it('an unknown or missing role counts as DEFAULT_ROLE (viewer unless set)', async () => {
    const server = await jwtServer()
    const { provider } = hocus(server.url, 'roles', { token: await hs256({ sub: 'x', role: 'superhero', exp: now() + 60 }) })
    let scope: string | null = null
    provider.on('authenticated', ({ scope: s }: { scope: string }) => { scope = s })
    await waitFor(() => scope !== null, 'authentication')
    expect(scope).toBe('readonly')
    const editors = await jwtServer({ DEFAULT_ROLE: 'editor' })
    const other = hocus(editors.url, 'roles', { token: await hs256({ sub: 'y', exp: now() + 60 }) })
    let otherScope: string | null = null
    other.provider.on('authenticated', ({ scope: s }: { scope: string }) => { otherScope = s })
    await waitFor(() => otherScope !== null, 'authentication')
    expect(otherScope).toBe('read-write')
  })
})

describe('public keys', () => {
  it('verifies ES256 tokens against a PEM key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
    const pem = (await exportSPKI(publicKey)).replace(/\n/g, '\\n')
    const server = await startServer({ env: { JWT_PUBLIC_KEY: pem } })
    servers.push(server)
    const token = await new SignJWT({ sub: 'kim', role: 'editor' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1m').sign(privateKey)
    await synced(yws(server.url, 'pem', { params: { token } }).provider)
    const forged = await hs256({ sub: 'kim', role: 'editor', exp: now() + 60 })
    expect((await refusedYws(server, 'pem', { query: forged })).code).toBe(4401)
  })

  it('follows a JWKS through a key rotation, fetching again for an unknown kid', async () => {
    const first = await generateKeyPair('ES256', { extractable: true })
    const second = await generateKeyPair('ES256', { extractable: true })
    let keys = [{ ...(await exportJWK(first.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }]
    let fetches = 0
    const jwks = createHttpServer((_req, res) => {
      fetches++
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ keys }))
    })
    httpServers.push(jwks)
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve))
    const server = await startServer({ env: { JWT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`, AUTH_CACHE_MS: '0' } })
    servers.push(server)
    const sign = async (key: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'], kid: string): Promise<string> =>
      await new SignJWT({ sub: 'lee', role: 'editor' }).setProtectedHeader({ alg: 'ES256', kid }).setExpirationTime('1m').sign(key)
    await synced(yws(server.url, 'jwks', { params: { token: await sign(first.privateKey, 'k1') } }).provider)
    expect(fetches).toBe(1)
    keys = [{ ...(await exportJWK(second.publicKey)), kid: 'k2', alg: 'ES256', use: 'sig' }]
    const rotated = await sign(second.privateKey, 'k2')
    // The JWKS is fetched at most every 2 s; a client retrying gets in once the new key is known.
    await waitFor(async () => (await refusedOrSynced(server, rotated)) === 'synced', 'the rotated key to be fetched', 10_000, 200)
    expect(fetches).toBe(2)
  })
})

describe('configuration', () => {
  it('rejects a short secret and more than one key source', async () => {
    await expect(startServer({ env: { JWT_SECRET: 'short' } })).rejects.toThrow(/at least 32 characters/)
    await expect(startServer({ env: { JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://example.com/jwks' } })).rejects.toThrow(/set only one/)
    await expect(startServer({ env: { JWT_SECRET: SECRET, JWT_ALGORITHMS: 'RS256' } })).rejects.toThrow(/JWT_ALGORITHMS/)
  })
})

/** One attempt with a y-websocket client: 'synced' or 'refused'. */
async function refusedOrSynced (server: TestServer, token: string): Promise<'synced' | 'refused'> {
  const client = await raw(`${server.url}/jwks?token=${token}`)
  const outcome = await Promise.race([
    client.closed.then(() => 'refused' as const),
    waitFor(() => client.frames.some((f) => f[0] === 0 && f[1] === 0), 'sync step 1', 3000).then(() => 'synced' as const, () => 'refused' as const),
  ])
  client.close()
  return outcome
}

