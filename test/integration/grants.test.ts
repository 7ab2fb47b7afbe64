/**
 * Per-document grants and ACCESS_POLICY, with JWT users. Out of the box roles decide: the
 * creator of a document is recorded as its owner, and a grant adds rights but never takes a
 * role's away. ACCESS_POLICY=grants makes documents private (open to their grantees only, with
 * the granted role; server admins keep access); ACCESS_POLICY=role ignores grants. Grants are
 * managed through the admin API and the CLI, and neither may remove or demote the last owner.
 */
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryStore, SqliteStore, type DocumentStore } from '../../dist/index.js'
import { destroyClients, hocus, raw, synced } from '../helpers/clients.js'
import { ROOT, startServer, tempDir, type TestServer } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256'
const servers: TestServer[] = []
afterEach(async () => {
  destroyClients()
  for (const s of servers.splice(0)) await s.close()
})

async function server (env: Record<string, string> = {}, store: DocumentStore = new MemoryStore()): Promise<TestServer> {
  const s = await startServer({ store, env: { JWT_SECRET: SECRET, AUTH_CACHE_MS: '0', ...env } })
  servers.push(s)
  return s
}

const token = async (sub: string, role: string): Promise<string> =>
  await new SignJWT({ sub, role }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1m').sign(new TextEncoder().encode(SECRET))

/** What a Hocuspocus client of `user` gets on `doc`: 'read-write', 'readonly' or 'denied'. */
async function accessOf (s: TestServer, doc: string, user: string, role: string): Promise<string> {
  const { provider } = hocus(s.url, doc, { token: await token(user, role) })
  let outcome: string | null = null
  provider.on('authenticated', ({ scope }: { scope: string }) => { outcome = scope })
  provider.on('authenticationFailed', () => { outcome = 'denied' })
  await waitFor(() => outcome !== null, `${user}'s answer on ${doc}`)
  provider.destroy()
  return outcome!
}

describe('grants', () => {
  it('by default record the creator as owner and only add: other users keep what their role gives, and a grant raises it', async () => {
    const store = new MemoryStore()
    const s = await server({}, store)
    expect(await accessOf(s, 'plan', 'ann', 'editor')).toBe('read-write')
    expect((await store.listGrants('plan')).map((g) => [g.userId, g.role])).toEqual([['ann', 'owner']])
    expect(await accessOf(s, 'plan', 'bob', 'editor')).toBe('read-write')
    expect(await accessOf(s, 'plan', 'vic', 'viewer')).toBe('readonly')
    await store.grant('plan', 'vic', 'editor')
    expect(await accessOf(s, 'plan', 'vic', 'viewer')).toBe('read-write') // granted on this document
    expect(await accessOf(s, 'other', 'vic', 'viewer')).toBe('readonly') // and only there
    await store.grant('plan', 'bob', 'viewer')
    expect(await accessOf(s, 'plan', 'bob', 'editor')).toBe('read-write') // a grant never demotes
    expect(await accessOf(s, 'plan', 'ann', 'viewer')).toBe('read-write') // the creator keeps writing
    expect(s.logs.filter((l) => l.msg === 'document refused')).toEqual([])
  })

  it('ACCESS_POLICY=grants: the creator owns a new document; others need a grant, and get the role it gives; admins keep access', async () => {
    const store = new MemoryStore()
    const s = await server({ ACCESS_POLICY: 'grants' }, store)
    expect(await accessOf(s, 'plan', 'ann', 'editor')).toBe('read-write')
    expect((await store.listGrants('plan')).map((g) => [g.userId, g.role])).toEqual([['ann', 'owner']])
    expect(await accessOf(s, 'plan', 'bob', 'editor')).toBe('denied')
    await store.grant('plan', 'bob', 'viewer')
    expect(await accessOf(s, 'plan', 'bob', 'editor')).toBe('readonly')
    await store.grant('plan', 'bob', 'editor')
    expect(await accessOf(s, 'plan', 'bob', 'viewer')).toBe('read-write')
    expect(await accessOf(s, 'plan', 'root', 'admin')).toBe('read-write')
    expect(await accessOf(s, 'plan', 'ann', 'viewer')).toBe('read-write') // her grant, not her token's role
    expect(s.logs.find((l) => l.msg === 'document refused')?.userId).toBe('bob')
  })

  it('two editors opening a new document at once: one is recorded as owner; both write by default, the other is refused under grants', async () => {
    const store = new MemoryStore()
    const s = await server({}, store)
    const outcomes = await Promise.all([accessOf(s, 'race', 'ann', 'editor'), accessOf(s, 'race', 'bob', 'editor')])
    expect(outcomes).toEqual(['read-write', 'read-write'])
    expect((await store.listGrants('race')).map((g) => g.role)).toEqual(['owner'])
    const privateStore = new MemoryStore()
    const strict = await server({ ACCESS_POLICY: 'grants' }, privateStore)
    const strictOutcomes = await Promise.all([accessOf(strict, 'race', 'ann', 'editor'), accessOf(strict, 'race', 'bob', 'editor')])
    expect(strictOutcomes.sort()).toEqual(['denied', 'read-write'])
    expect((await privateStore.listGrants('race')).map((g) => g.role)).toEqual(['owner'])
  })

  it('a viewer opening a new document does not become its owner', async () => {
    const store = new MemoryStore()
    const s = await server({}, store)
    expect(await accessOf(s, 'fresh', 'vic', 'viewer')).toBe('readonly')
    expect(await store.listGrants('fresh')).toEqual([])
  })

  it('ACCESS_POLICY=role ignores grants; ACCESS_POLICY=grants shuts documents without grants', async () => {
    const store = new MemoryStore()
    await store.grant('private', 'ann', 'owner')
    const byRole = await server({ ACCESS_POLICY: 'role' }, store)
    expect(await accessOf(byRole, 'private', 'bob', 'editor')).toBe('read-write')
    const strictStore = new MemoryStore()
    await strictStore.append([{ document: 'legacy', update: Uint8Array.of(0, 0), userId: null }])
    const byGrants = await server({ ACCESS_POLICY: 'grants' }, strictStore)
    expect(await accessOf(byGrants, 'legacy', 'bob', 'editor')).toBe('denied')
    expect(await accessOf(byGrants, 'brand-new', 'bob', 'editor')).toBe('read-write') // he creates it
    expect(await accessOf(byGrants, 'brand-new', 'cy', 'editor')).toBe('denied')
  })

  it('a refused y-websocket client gets 4403 and the document is never loaded for it', async () => {
    const store = new MemoryStore()
    await store.grant('secret-doc', 'ann', 'owner')
    const s = await server({ ACCESS_POLICY: 'grants' }, store)
    const client = await raw(`${s.url}/secret-doc?token=${await token('eve', 'editor')}`)
    expect((await client.closed).code).toBe(4403)
    expect(s.server.registry.size).toBe(0)
    await synced(hocus(s.url, 'secret-doc', { token: await token('ann', 'editor') }).provider)
  })
})

describe('managing grants', () => {
  const ADMIN = 'admin-token-admin-token-admin-token-0123'

  it('through the admin API: grant, list, revoke, each taking effect on the next connection', async () => {
    const s = await server({ ADMIN_TOKEN: ADMIN, ACCESS_POLICY: 'grants' })
    const api = async (method: string, query: string, body?: unknown, auth = ADMIN): Promise<Response> =>
      await fetch(`${s.httpUrl}/admin/access${query}`, { method, headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    expect(await accessOf(s, 'team/plan', 'ann', 'editor')).toBe('read-write') // creator: owner
    expect((await api('PUT', '', { document: 'team/plan', user: 'bob', role: 'viewer' })).status).toBe(204)
    expect(await accessOf(s, 'team/plan', 'bob', 'editor')).toBe('readonly')
    const listed = await (await api('GET', `?document=${encodeURIComponent('team/plan')}`)).json() as { grants: Array<{ userId: string, role: string }> }
    expect(listed.grants.map((g) => [g.userId, g.role]).sort()).toEqual([['ann', 'owner'], ['bob', 'viewer']])
    expect((await api('DELETE', `?document=${encodeURIComponent('team/plan')}&user=ann`)).status).toBe(409) // the last owner
    const demoted = await api('PUT', '', { document: 'team/plan', user: 'ann', role: 'editor' })
    expect(demoted.status).toBe(409) // nor demoted
    expect(await demoted.json()).toEqual({ error: 'ann is the last owner of "team/plan": grant another owner first' })
    expect(await accessOf(s, 'team/plan', 'ann', 'viewer')).toBe('read-write') // still her document
    expect((await api('DELETE', `?document=${encodeURIComponent('team/plan')}&user=bob`)).status).toBe(204)
    expect((await api('DELETE', `?document=${encodeURIComponent('team/plan')}&user=bob`)).status).toBe(404)
    expect(await accessOf(s, 'team/plan', 'bob', 'editor')).toBe('denied')
    expect((await api('PUT', '', { document: 'team/plan', user: 'bob', role: 'superuser' })).status).toBe(400)
    expect((await api('PUT', '', { document: 'bad\u0000name', user: 'bob', role: 'viewer' })).status).toBe(400)
    expect((await api('PUT', '', { document: 'team/plan', user: 'bo\u0000b', role: 'viewer' })).status).toBe(400)
    expect((await api('GET', '?document=x', undefined, 'wrong-token')).status).toBe(401)
    expect(JSON.stringify(s.logs)).not.toContain(ADMIN)
  })

  it('is not served without ADMIN_TOKEN', async () => {
    const s = await server()
    expect((await fetch(`${s.httpUrl}/admin/access?document=x`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(404)
  })

  it('from the command line, on the server\'s SQLite file', async () => {
    const tmp = tempDir()
    try {
      const file = path.join(tmp.dir, 'collabd.sqlite')
      const cli = (...args: string[]): { status: number | null, stdout: string, stderr: string } =>
        spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...args], { cwd: tmp.dir, encoding: 'utf8', env: { PATH: process.env.PATH, DATABASE_URL: `sqlite:${file}` } })
      // The server creates the store; the commands work beside it (and never create one).
      const s = await server({ ACCESS_POLICY: 'grants' }, new SqliteStore({ path: file, synchronous: 'full' }))
      expect(cli('grant', 'spec', 'dan', 'editor').status).toBe(0)
      expect(cli('grant', 'spec', 'eve', 'viewer').status).toBe(0)
      const listed = cli('access', 'spec')
      expect(listed.stdout).toMatch(/editor\s+dan/)
      expect(listed.stdout).toMatch(/viewer\s+eve/)
      expect(cli('grant', 'spec', 'eve', 'boss').status).toBe(2)
      expect(cli('revoke', 'spec', 'nobody').status).toBe(1)
      expect(cli('grant', 'spec', 'dan', 'owner').status).toBe(0)
      const revoked = cli('revoke', 'spec', 'dan')
      expect(revoked.status).toBe(2)
      expect(revoked.stderr).toContain('collabd: dan is the last owner of "spec": grant another owner first\n')
      const demoted = cli('grant', 'spec', 'dan', 'editor')
      expect(demoted.status).toBe(2)
      expect(demoted.stderr).toContain('collabd: dan is the last owner of "spec": grant another owner first\n')
      expect(cli('access', 'spec').stdout).toMatch(/owner\s+dan/)
      expect(cli('grant', 'spec', 'gil', 'owner').status).toBe(0)
      expect(cli('grant', 'spec', 'dan', 'editor').status).toBe(0) // another owner now
      expect(await accessOf(s, 'spec', 'dan', 'viewer')).toBe('read-write')
      expect(await accessOf(s, 'spec', 'eve', 'editor')).toBe('readonly')
      expect(await accessOf(s, 'spec', 'fay', 'editor')).toBe('denied')
    } finally {
      for (const s of servers.splice(0)) await s.close()
      tmp.remove()
    }
  })
})
