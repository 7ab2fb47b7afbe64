/**
 * The access policy (auth/access-policy.ts) against the real in-memory store: out of the box
 * roles decide and a grant only adds (an editor's new document stays open to viewers and other
 * editors); ACCESS_POLICY=grants makes documents private to their grantees; `role` ignores
 * grants. Also the ACCESS_POLICY setting itself, including the refused former default.
 */
import { Writable } from 'node:stream'
import { beforeEach, describe, expect, it } from 'vitest'
import { PolicyAuthorizer, type AccessOptions } from '../../src/auth/access-policy.js'
import type { Principal } from '../../src/auth/types.js'
import { loadConfig } from '../../src/config.js'
import { ConfigError } from '../../src/errors.js'
import { createLogger } from '../../src/log.js'
import { MemoryStore } from '../../src/storage/memory.js'

const user = (userId: string, role: string | null, extra: Partial<Principal> = {}): Principal =>
  ({ userId, role, displayName: null, anonymous: false, ...extra })

/** Makes `name` a stored document (written before grants existed, or anonymously). */
async function stored (store: MemoryStore, name: string): Promise<void> {
  await store.append([{ document: name, update: Uint8Array.of(0, 0), userId: null }])
}

const grantsOf = async (store: MemoryStore, document: string): Promise<string[][]> =>
  (await store.listGrants(document)).map((g) => [g.userId, g.role])

let store: MemoryStore
/** What the authorizers logged, as parsed JSON lines. */
let logs: Array<Record<string, unknown>>
beforeEach(() => {
  store = new MemoryStore()
  logs = []
})

/** The authorizer the defaults build: role-plus-grants, OWNER_ON_CREATE, DEFAULT_ROLE viewer. */
function authorizer (options: Partial<AccessOptions> = {}): PolicyAuthorizer {
  const defaults = loadConfig({}).auth
  const destination = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  const log = createLogger({ level: 'info', format: 'json', destination })
  return new PolicyAuthorizer({ defaultRole: defaults.defaultRole, policy: defaults.accessPolicy, ownerOnCreate: defaults.ownerOnCreate, ...options }, store, log)
}

describe('the defaults: roles decide, grants add', () => {
  it('are role-plus-grants with OWNER_ON_CREATE and DEFAULT_ROLE viewer', () => {
    expect(loadConfig({}).auth).toMatchObject({ accessPolicy: 'role-plus-grants', ownerOnCreate: true, defaultRole: 'viewer' })
  })

  it('an editor\'s new document is recorded as theirs and stays open to a viewer (read) and a second editor (write)', async () => {
    const a = authorizer()
    expect(await a.authorize(user('ann', 'editor'), 'plan')).toBe('write')
    expect(await grantsOf(store, 'plan')).toEqual([['ann', 'owner']])
    await stored(store, 'plan') // she typed
    expect(await a.authorize(user('vic', 'viewer'), 'plan')).toBe('read')
    expect(await a.authorize(user('bob', 'editor'), 'plan')).toBe('write')
    expect(await a.authorize(user('nobody', null), 'plan')).toBe('read') // DEFAULT_ROLE
    expect(await grantsOf(store, 'plan')).toEqual([['ann', 'owner']]) // later users claim nothing
  })

  it('a grant adds rights on its document and never takes a role\'s away', async () => {
    const a = authorizer()
    await store.grant('plan', 'ann', 'owner')
    await store.grant('plan', 'vic', 'editor')
    await store.grant('plan', 'bob', 'viewer')
    expect(await a.authorize(user('vic', 'viewer'), 'plan')).toBe('write') // granted editor
    expect(await a.authorize(user('vic', 'viewer'), 'other')).toBe('read') // only on that document
    expect(await a.authorize(user('bob', 'editor'), 'plan')).toBe('write') // a viewer grant does not demote
    expect(await a.authorize(user('ann', 'viewer'), 'plan')).toBe('write') // the creator keeps writing
  })

  it('a viewer opening a new document reads it and is not recorded as its owner', async () => {
    expect(await authorizer().authorize(user('vic', 'viewer'), 'fresh')).toBe('read')
    expect(await store.listGrants('fresh')).toEqual([])
  })

  it('records nobody with OWNER_ON_CREATE=false, and nobody on a document that predates grants', async () => {
    expect(await authorizer({ ownerOnCreate: false }).authorize(user('ann', 'editor'), 'fresh')).toBe('write')
    expect(await store.listGrants('fresh')).toEqual([])
    await stored(store, 'legacy')
    expect(await authorizer().authorize(user('ann', 'editor'), 'legacy')).toBe('write')
    expect(await store.listGrants('legacy')).toEqual([])
  })

  it('a store whose grants cannot be read costs a user their grant, never their role (and is logged)', async () => {
    const a = authorizer()
    await store.grant('plan', 'vic', 'editor')
    await store.close() // as PostgreSQL down: every read throws
    expect(await a.authorize(user('vic', 'viewer'), 'plan')).toBe('read')
    expect(await a.authorize(user('bob', 'editor'), 'fresh')).toBe('write')
    expect(logs.map((l) => [l.msg, l.document, l.userId])).toEqual([
      ['grants could not be read; access by role alone', 'plan', 'vic'],
      ['grants could not be read; access by role alone', 'fresh', 'bob'],
    ])
    await expect(authorizer({ policy: 'grants' }).authorize(user('bob', 'editor'), 'plan')).rejects.toThrow('memory store is closed')
  })

  it('server owners and admins write everywhere and claim nothing', async () => {
    const a = authorizer({ policy: 'grants' })
    expect(await authorizer().authorize(user('root', 'admin'), 'fresh')).toBe('write')
    expect(await store.listGrants('fresh')).toEqual([])
    await store.grant('private', 'ann', 'owner')
    expect(await a.authorize(user('root', 'admin'), 'private')).toBe('write')
    expect(await a.authorize(user('boss', 'owner'), 'private')).toBe('write')
  })
})

describe('ACCESS_POLICY=grants: private documents', () => {
  it('a new document is its creator\'s: other editors and viewers are refused until granted, then get the granted role', async () => {
    const a = authorizer({ policy: 'grants' })
    expect(await a.authorize(user('ann', 'editor'), 'plan')).toBe('write')
    expect(await grantsOf(store, 'plan')).toEqual([['ann', 'owner']])
    expect(await a.authorize(user('bob', 'editor'), 'plan')).toBe('none')
    expect(await a.authorize(user('vic', 'viewer'), 'plan')).toBe('none')
    await store.grant('plan', 'bob', 'viewer')
    expect(await a.authorize(user('bob', 'editor'), 'plan')).toBe('read') // the granted role, not his token's
    await store.grant('plan', 'vic', 'editor')
    expect(await a.authorize(user('vic', 'viewer'), 'plan')).toBe('write')
  })

  it('a stored document without grants is open to nobody (but server admins)', async () => {
    await stored(store, 'legacy')
    const a = authorizer({ policy: 'grants' })
    expect(await a.authorize(user('bob', 'editor'), 'legacy')).toBe('none')
    expect(await a.authorize(user('root', 'admin'), 'legacy')).toBe('write')
  })

  it('two editors opening a new document at once: one owns it, the other is refused', async () => {
    const a = authorizer({ policy: 'grants' })
    const outcomes = await Promise.all([a.authorize(user('ann', 'editor'), 'race'), a.authorize(user('bob', 'editor'), 'race')])
    expect(outcomes.sort()).toEqual(['none', 'write'])
    expect((await store.listGrants('race')).map((g) => g.role)).toEqual(['owner'])
  })
})

describe('ACCESS_POLICY=role', () => {
  it('ignores grants, and records no creator', async () => {
    const a = authorizer({ policy: 'role' })
    await store.grant('plan', 'vic', 'editor')
    await store.grant('plan', 'bob', 'viewer')
    expect(await a.authorize(user('vic', 'viewer'), 'plan')).toBe('read')
    expect(await a.authorize(user('bob', 'editor'), 'plan')).toBe('write')
    expect(await a.authorize(user('ann', 'editor'), 'fresh')).toBe('write')
    expect(await store.listGrants('fresh')).toEqual([])
  })
})

describe('under every policy', () => {
  it.each(['role-plus-grants', 'grants', 'role'] as const)('%s: a credential limited to some documents opens nothing else, not even with a grant', async (policy) => {
    const a = authorizer({ policy })
    await store.grant('elsewhere', 'fay', 'owner')
    const scope = { names: new Set(['draft-1']), prefix: null }
    expect(await a.authorize(user('fay', 'admin', { scope }), 'elsewhere')).toBe('none')
    expect(await a.authorize(user('fay', 'admin', { scope }), 'draft-1')).toBe('write')
  })

  it('an anonymous principal (authentication off) writes', async () => {
    expect(await authorizer({ policy: 'grants' }).authorize({ userId: null, role: null, displayName: null, anonymous: true }, 'any')).toBe('write')
  })
})

describe('the ACCESS_POLICY setting', () => {
  it('accepts the three policies', () => {
    for (const policy of ['role-plus-grants', 'grants', 'role']) expect(loadConfig({ ACCESS_POLICY: policy }).auth.accessPolicy).toBe(policy)
  })

  it('refuses the former default grants-or-role by name, pointing at the new values, rather than reading it with another meaning', () => {
    const error = (() => { try { loadConfig({ ACCESS_POLICY: 'grants-or-role' }) } catch (err) { return err } })()
    expect(error).toBeInstanceOf(ConfigError)
    const message = (error as ConfigError).message
    expect(message).toContain('ACCESS_POLICY no longer accepts this value, the former default')
    expect(message).toContain('(got "grants-or-role")')
    expect(message).toContain('role-plus-grants')
    expect(message).toContain('grants (private documents)')
    expect(() => loadConfig({ ACCESS_POLICY: 'everyone' })).toThrow(/ACCESS_POLICY must be one of role-plus-grants, grants, role \(got "everyone"\)/)
  })
})
