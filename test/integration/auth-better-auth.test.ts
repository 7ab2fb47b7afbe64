/**
 * Better Auth sessions, against a real better-auth instance (the npm package, its tables made by
 * its own migrations) on the test PostgreSQL and on SQLite: sign up through its API, take its
 * Set-Cookie, and connect with it on both protocols and in the bearer form. Refused: a tampered
 * cookie, a wrong secret, an expired session, a signed-out one, a banned user. Signing out while
 * connected disconnects within the re-check interval. Roles decide out of the box: the first
 * user's new document stays open to the rest of the team (a fresh user, Better Auth's `user`
 * role, reads as DEFAULT_ROLE viewer; a second editor writes), unless ACCESS_POLICY=grants.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { betterAuth } from 'better-auth'
import { toNodeHandler } from 'better-auth/node'
import { getMigrations } from 'better-auth/db/migration'
import { admin, bearer } from 'better-auth/plugins'
import Database from 'better-sqlite3'
import { SignJWT } from 'jose'
import { decoding } from 'lib0'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { destroyClients, hocus, raw, synced, text, yws } from '../helpers/clients.js'
import { PG_BASE, schemaUrl } from '../helpers/postgres.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

const SECRET = 'better-auth-test-secret-0123456789abcdef0123456789'
const PG_URL = PG_BASE

interface App {
  /** What collabd's BETTER_AUTH_DATABASE_URL should be. */
  readonly databaseUrl: string
  /** Signs up a new user. @returns the cookie value as set, and the signed token (bearer form). */
  signUp (name: string): Promise<{ cookie: string, signed: string, userId: string, email: string }>
  /** Signs in again (a second session). @returns its cookie value and signed token. */
  signIn (email: string): Promise<{ cookie: string, signed: string }>
  signOut (cookie: string): Promise<void>
  /** Runs SQL against the app's database, as the app (or an admin) would. */
  exec (sql: string, params: unknown[]): Promise<void>
  /** Serves the app's Better Auth routes over HTTP on 127.0.0.1. @returns its base URL. */
  serve (): Promise<string>
  close (): Promise<void>
}

async function pgApp (): Promise<App> {
  const schema = `ba_test_${process.pid}_${Date.now()}`
  const setup = new pg.Client({ connectionString: PG_URL })
  await setup.connect()
  await setup.query(`CREATE SCHEMA ${schema}`)
  await setup.end()
  const url = schemaUrl(schema)
  const pool = new pg.Pool({ connectionString: url })
  return await app(pool, url, async (sql, params) => { await pool.query(sql.replace(/\?/g, (() => { let i = 0; return () => `$${++i}` })()), params) }, async () => {
    await pool.end()
    const drop = new pg.Client({ connectionString: PG_URL })
    await drop.connect()
    await drop.query(`DROP SCHEMA ${schema} CASCADE`)
    await drop.end()
  })
}

async function sqliteApp (): Promise<App> {
  const dir = mkdtempSync(path.join(tmpdir(), 'collabd-ba-'))
  const file = path.join(dir, 'app.sqlite')
  const db = new Database(file)
  return await app(db, `sqlite:${file}`, async (sql, params) => { db.prepare(sql).run(...params) }, async () => {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })
}

async function app (database: unknown, databaseUrl: string, exec: App['exec'], close: () => Promise<void>): Promise<App> {
  const closers: Array<() => Promise<void>> = []
  const auth = betterAuth({ database: database as never, secret: SECRET, baseURL: 'http://localhost:3000', emailAndPassword: { enabled: true }, plugins: [admin(), bearer()] })
  const { runMigrations } = await getMigrations(auth.options)
  await runMigrations()
  return {
    databaseUrl,
    signUp: async (name) => {
      const email = `${name}-${Date.now()}@example.com`
      const res = await auth.api.signUpEmail({ body: { email, password: 'a-long-password-1', name }, asResponse: true })
      const body = await res.json() as { user: { id: string } }
      return { ...sessionOf(res), userId: body.user.id, email }
    },
    signIn: async (email) => sessionOf(await auth.api.signInEmail({ body: { email, password: 'a-long-password-1' }, asResponse: true })),
    signOut: async (cookie) => {
      await auth.api.signOut({ headers: new Headers({ cookie: `better-auth.session_token=${cookie}` }) })
    },
    exec,
    serve: async () => {
      const http = createHttpServer(toNodeHandler(auth))
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
      closers.push(async () => { await new Promise((resolve) => http.close(resolve)) })
      return `http://127.0.0.1:${(http.address() as AddressInfo).port}`
    },
    close: async () => {
      for (const c of closers.splice(0)) await c()
      await close()
    },
  }
}

/** The session cookie value and the bearer plugin's signed token from a Better Auth response. */
function sessionOf (res: Response): { cookie: string, signed: string } {
  const cookie = /better-auth\.session_token=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')![1]!
  return { cookie, signed: res.headers.get('set-auth-token')! }
}

function deniedReason (frame: Uint8Array): string | null {
  const d = decoding.createDecoder(frame)
  if (decoding.readVarUint(d) !== 2 || decoding.readVarUint(d) !== 0) return null
  return decoding.readVarString(d)
}

describe.each([['PostgreSQL', pgApp], ['SQLite', sqliteApp]] as const)('Better Auth sessions on %s', (_name, makeApp) => {
  let appInstance: App
  const servers: TestServer[] = []
  beforeAll(async () => { appInstance = await makeApp() }, 60_000)
  afterAll(async () => { await appInstance.close() })
  afterEach(async () => {
    destroyClients()
    for (const s of servers.splice(0)) await s.close()
  })

  async function server (env: Record<string, string> = {}): Promise<TestServer> {
    const s = await startServer({ env: { BETTER_AUTH_SECRET: SECRET, BETTER_AUTH_DATABASE_URL: appInstance.databaseUrl, SESSION_RECHECK_MS: '200', ...env } })
    servers.push(s)
    return s
  }

  async function refused (s: TestServer, doc: string, opts: { query?: string, headers?: Record<string, string> }): Promise<{ code: number, denied: string | null }> {
    const client = await raw(`${s.url}/${doc}${opts.query === undefined ? '' : `?token=${opts.query}`}`, { headers: opts.headers ?? {} })
    const { code } = await client.closed
    return { code, denied: client.frames.map(deniedReason).find((r) => r !== null) ?? null }
  }

  it('accepts its session cookie (also __Secure-), the signed token (Hocuspocus token, Bearer, ?token=) on both protocols, takes the role from the user row and names the user', async () => {
    const s = await server()
    const ann = await appInstance.signUp('ann')
    // The admin plugin's default role "user" is not a collabd role (DEFAULT_ROLE, viewer, applies).
    await appInstance.exec('UPDATE "user" SET role = ? WHERE id = ?', ['editor', ann.userId])
    const byCookie = yws(s.url, 'ba-doc', { headers: { Cookie: `theme=dark; better-auth.session_token=${ann.cookie}` } })
    const byHocuspocus = hocus(s.url, 'ba-doc', { token: ann.signed })
    const byBearer = yws(s.url, 'ba-doc', { headers: { Authorization: `Bearer ${ann.signed}` } })
    const byQuery = yws(s.url, 'ba-doc', { params: { token: ann.signed } })
    const byHpCookie = hocus(s.url, 'ba-doc', { token: '', headers: { Cookie: `__Secure-better-auth.session_token=${ann.cookie}` } })
    const signedIn = await appInstance.signIn(ann.email) // a second session of the same user
    const byHpBearer = hocus(s.url, 'ba-doc', { token: '', headers: { Authorization: `Bearer ${signedIn.signed}` } })
    for (const c of [byCookie, byHocuspocus, byBearer, byQuery, byHpCookie, byHpBearer]) await synced(c.provider)
    byHocuspocus.doc.getText('t').insert(0, 'signed in')
    for (const c of [byCookie, byBearer, byQuery, byHpCookie, byHpBearer]) await waitFor(() => text(c.doc) === 'signed in', 'the edit to arrive')
    expect(s.logs.filter((l) => l.msg === 'connected').map((l) => l.userId)).toEqual(Array(6).fill(ann.userId))
    expect(JSON.stringify(s.logs)).not.toContain(ann.signed.split('.')[0])
  })

  it('lets roles decide out of the box: the first user\'s new document is read by a fresh (viewer) user and written by a second editor; ACCESS_POLICY=grants keeps it private', async () => {
    const [ann, bea, vic] = [await appInstance.signUp('ann'), await appInstance.signUp('bea'), await appInstance.signUp('vic')]
    for (const editor of [ann, bea]) await appInstance.exec('UPDATE "user" SET role = ? WHERE id = ?', ['editor', editor.userId])
    for (const [policy, doc] of [['defaults', 'team-plan'], ['grants', 'ann-plan']] as const) {
      const s = await server(policy === 'grants' ? { ACCESS_POLICY: 'grants' } : {})
      const first = hocus(s.url, doc, { token: ann.signed })
      await synced(first.provider)
      first.doc.getText('t').insert(0, 'plan')
      await waitFor(() => first.provider.unsyncedChanges === 0, 'the first user\'s edit to be stored')
      if (policy === 'grants') {
        expect((await refused(s, doc, { headers: { Cookie: `better-auth.session_token=${vic.cookie}` } })).code).toBe(4403)
        expect((await refused(s, doc, { headers: { Cookie: `better-auth.session_token=${bea.cookie}` } })).code).toBe(4403)
        continue
      }
      const viewer = hocus(s.url, doc, { token: vic.signed }) // role "user": DEFAULT_ROLE, viewer
      let scope: string | null = null
      viewer.provider.on('authenticated', ({ scope: given }: { scope: string }) => { scope = given })
      await synced(viewer.provider)
      expect([scope, text(viewer.doc)]).toEqual(['readonly', 'plan'])
      const second = yws(s.url, doc, { headers: { Cookie: `better-auth.session_token=${bea.cookie}` } })
      await synced(second.provider)
      second.doc.getText('t').insert(4, ' B')
      await waitFor(() => text(first.doc) === 'plan B' && text(viewer.doc) === 'plan B', 'the second editor\'s edit to reach the team')
      expect(s.logs.filter((l) => l.msg === 'connection refused' || l.msg === 'document refused')).toEqual([])
    }
  })

  it('refuses a tampered cookie and a wrong secret before looking anything up', async () => {
    const s = await server()
    const bob = await appInstance.signUp('bob')
    const tampered = (bob.cookie[0] === 'A' ? 'B' : 'A') + bob.cookie.slice(1)
    expect(await refused(s, 'ba-doc', { headers: { Cookie: `better-auth.session_token=${tampered}` } })).toEqual({ code: 4401, denied: 'authentication failed' })
    const wrong = await server({ BETTER_AUTH_SECRET: 'another-secret-another-secret-another-secret!' })
    expect((await refused(wrong, 'ba-doc', { headers: { Cookie: `better-auth.session_token=${bob.cookie}` } })).code).toBe(4401)
    for (const log of [...s.logs, ...wrong.logs].filter((l) => l.msg === 'connection refused')) expect(String(log.reason)).toContain('signature does not match')
  })

  it('explains a ?token= whose "+" was not URL-encoded, and keeps serving', async () => {
    const s = await server()
    let user = await appInstance.signUp('plus')
    for (let i = 0; i < 20 && !user.signed.split('.')[1]!.includes('+'); i++) user = await appInstance.signUp('plus')
    expect(user.signed).toContain('+')
    expect((await refused(s, 'ba-doc', { query: user.signed })).code).toBe(4401)
    expect(String(s.logs.find((l) => l.msg === 'connection refused')?.reason)).toContain('not URL-encoded')
    await synced(yws(s.url, 'ba-doc', { params: { token: user.signed } }).provider) // the provider encodes it
  })

  it('accepts a raw unsigned token only when BETTER_AUTH_ALLOW_UNSIGNED is on', async () => {
    const gus = await appInstance.signUp('gus')
    const rawToken = gus.signed.split('.')[0]!
    const strict = await server()
    expect((await refused(strict, 'ba-doc', { headers: { Authorization: `Bearer ${rawToken}` } })).code).toBe(4401)
    expect(String(strict.logs.find((l) => l.msg === 'connection refused')?.reason)).toContain('not signed')
    const lenient = await server({ BETTER_AUTH_ALLOW_UNSIGNED: 'true' })
    await synced(yws(lenient.url, 'ba-doc', { headers: { Authorization: `Bearer ${rawToken}` } }).provider)
  })

  it('works alongside JWT: each credential is checked by the scheme it belongs to', async () => {
    const jwtSecret = 'jwt-secret-for-services-0123456789abcdef'
    const s = await server({ JWT_SECRET: jwtSecret })
    const hana = await appInstance.signUp('hana')
    const service = await new SignJWT({ sub: 'indexer', role: 'viewer' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1m').sign(new TextEncoder().encode(jwtSecret))
    await synced(yws(s.url, 'ba-both', { headers: { Cookie: `better-auth.session_token=${hana.cookie}` } }).provider)
    await synced(hocus(s.url, 'ba-both', { token: service }).provider)
    expect(s.logs.filter((l) => l.msg === 'connected').map((l) => l.userId)).toEqual([hana.userId, 'indexer'])
    const forged = await new SignJWT({ sub: 'indexer' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1m').sign(new TextEncoder().encode('not-the-jwt-secret-not-the-jwt-secret!!'))
    expect((await refused(s, 'ba-both', { query: forged })).code).toBe(4401)
  })

  it('refuses an expired session and a banned user', async () => {
    const s = await server({ AUTH_CACHE_MS: '0' })
    const cy = await appInstance.signUp('cy')
    await appInstance.exec('UPDATE "session" SET "expiresAt" = ? WHERE "userId" = ?', [makeDate(_name, Date.now() - 60_000), cy.userId])
    expect((await refused(s, 'ba-doc', { headers: { Authorization: `Bearer ${cy.signed}` } })).code).toBe(4401)
    const di = await appInstance.signUp('di')
    await appInstance.exec('UPDATE "user" SET banned = ? WHERE id = ?', [_name === 'SQLite' ? 1 : true, di.userId])
    expect((await refused(s, 'ba-doc', { headers: { Authorization: `Bearer ${di.signed}` } })).code).toBe(4401)
    const reasons = s.logs.filter((l) => l.msg === 'connection refused').map((l) => String(l.reason))
    expect(reasons[0]).toContain('expired')
    expect(reasons[1]).toContain('banned')
  })

  it('disconnects a client within the re-check interval after its user signs out, on both protocols, and does not let it back in from the cache', async () => {
    const s = await server({ AUTH_CACHE_MS: '60000' })
    const eve = await appInstance.signUp('eve')
    const stay = await appInstance.signUp('stay')
    const leaving = await raw(`${s.url}/ba-live`, { headers: { Cookie: `better-auth.session_token=${eve.cookie}` } })
    const leavingHp = hocus(s.url, 'ba-live', { token: eve.signed })
    let hpDenied: string | null = null
    leavingHp.provider.on('authenticationFailed', ({ reason }: { reason: string }) => { hpDenied = reason })
    const staying = yws(s.url, 'ba-live', { params: { token: stay.signed } })
    await synced(leavingHp.provider)
    await synced(staying.provider)
    await appInstance.signOut(eve.cookie)
    const { code } = await leaving.closed
    expect(code).toBe(4401)
    expect(leaving.frames.map(deniedReason).find((r) => r !== null)).toBe('session ended')
    await waitFor(() => hpDenied !== null, 'the Hocuspocus provider to be told')
    expect(hpDenied).toBe('session ended')
    expect(staying.provider.wsconnected).toBe(true)
    // And a new connection with the signed-out cookie is refused.
    expect((await refused(s, 'ba-live', { headers: { Cookie: `better-auth.session_token=${eve.cookie}` } })).code).toBe(4401)
  })
})

describe('Better Auth over HTTP (BETTER_AUTH_URL)', () => {
  let appInstance: App
  let server: TestServer | null = null
  beforeAll(async () => { appInstance = await sqliteApp() }, 60_000)
  afterAll(async () => { await appInstance.close() })
  afterEach(async () => {
    destroyClients()
    await server?.close()
  })

  it('asks the app\'s get-session endpoint: a live session connects, a signed-out one is refused', async () => {
    const url = await appInstance.serve()
    server = await startServer({ env: { BETTER_AUTH_SECRET: SECRET, BETTER_AUTH_URL: url, AUTH_CACHE_MS: '0', DEFAULT_ROLE: 'editor' } })
    const fay = await appInstance.signUp('fay')
    await synced(yws(server.url, 'ba-http', { headers: { Cookie: `better-auth.session_token=${fay.cookie}` } }).provider)
    expect(server.logs.find((l) => l.msg === 'connected')?.userId).toBe(fay.userId)
    await appInstance.signOut(fay.cookie)
    const client = await raw(`${server.url}/ba-http`, { headers: { Cookie: `better-auth.session_token=${fay.cookie}` } })
    expect((await client.closed).code).toBe(4401)
  })
})

/** The app's own date encoding: a Date for pg, an ISO string for better-auth's SQLite. */
function makeDate (store: string, ms: number): Date | string {
  return store === 'SQLite' ? new Date(ms).toISOString() : new Date(ms)
}
