/**
 * One contract, every store: memory, SQLite, and PostgreSQL (the test database, a fresh schema
 * per test).
 */
import Database from 'better-sqlite3'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import pg from 'pg'
import { CorruptDocumentError, MemoryStore, PostgresStore, SqliteStore, type DocumentStore, type StoredDocument } from '../../dist/index.js'
import { buildDoc } from '../../dist/storage/snapshot.js'
import { freshSchema, PG_BASE, schemaUrl } from '../helpers/postgres.js'
import { tempDir } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

interface Harness {
  store: DocumentStore
  /** A second store on the same data, as another instance would have (or the same store). */
  other (): Promise<DocumentStore>
  /** Overwrites a document's snapshot bytes behind the store's back. */
  corruptSnapshot (name: string, bytes: Uint8Array): Promise<void>
  readSnapshot (name: string): Promise<Uint8Array | null>
  reopen (): Promise<DocumentStore>
  cleanup (): Promise<void>
}

const factories: Record<string, () => Promise<Harness>> = {
  memory: async () => {
    const store = new MemoryStore()
    await store.open()
    const docs = (store as unknown as { documents: Map<string, { snapshot: Uint8Array | null }> }).documents
    return {
      store,
      other: async () => store,
      corruptSnapshot: async (name, bytes) => { docs.get(name)!.snapshot = bytes },
      readSnapshot: async (name) => docs.get(name)?.snapshot ?? null,
      reopen: async () => store,
      cleanup: async () => { await store.close() },
    }
  },
  sqlite: async () => {
    const tmp = tempDir()
    const file = path.join(tmp.dir, 'nested', 'store.sqlite')
    const stores: DocumentStore[] = []
    // One file has one serving store (the single-server lock); the other processes on it are
    // management commands (grant, export, import), which open it with use 'manage'.
    const make = async (use: 'serve' | 'manage'): Promise<DocumentStore> => {
      const s = new SqliteStore({ path: file, synchronous: 'full', use, createFolders: true })
      await s.open()
      stores.push(s)
      return s
    }
    const store = await make('serve')
    const withDb = <T>(f: (db: Database.Database) => T): T => {
      const db = new Database(file)
      try { return f(db) } finally { db.close() }
    }
    return {
      store,
      other: async () => await make('manage'),
      corruptSnapshot: async (name, bytes) => { withDb((db) => db.prepare('UPDATE yjs_document SET snapshot = ? WHERE name = ?').run(Buffer.from(bytes), name)) },
      readSnapshot: async (name) => withDb((db) => (db.prepare('SELECT snapshot FROM yjs_document WHERE name = ?').get(name) as { snapshot: Buffer } | undefined)?.snapshot ?? null),
      reopen: async () => { await store.close(); return await make('serve') },
      cleanup: async () => {
        for (const s of stores) await s.close()
        tmp.remove()
      },
    }
  },
  postgres: async () => {
    const base = PG_BASE
    const schema = `contract_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`
    const admin = new pg.Client({ connectionString: base })
    await admin.connect()
    await admin.query(`CREATE SCHEMA ${schema}`)
    const url = schemaUrl(schema)
    const stores: DocumentStore[] = []
    const make = async (): Promise<DocumentStore> => {
      const s = new PostgresStore({ url, poolSize: 4, migrate: true })
      await s.open()
      stores.push(s)
      return s
    }
    const store = await make()
    return {
      store,
      other: make,
      corruptSnapshot: async (name, bytes) => { await admin.query(`UPDATE ${schema}.yjs_document SET snapshot = $1 WHERE name = $2`, [Buffer.from(bytes), name]) },
      readSnapshot: async (name) => (await admin.query<{ snapshot: Buffer | null }>(`SELECT snapshot FROM ${schema}.yjs_document WHERE name = $1`, [name])).rows[0]?.snapshot ?? null,
      reopen: async () => { await store.close(); return await make() },
      cleanup: async () => {
        for (const s of stores) await s.close()
        await admin.query(`DROP SCHEMA ${schema} CASCADE`)
        await admin.end()
      },
    }
  },
}

/** An update that inserts `s` at the end of text "t" of `doc`, captured as bytes. */
function edit (doc: Y.Doc, s: string): Uint8Array {
  let update: Uint8Array | null = null
  const capture = (u: Uint8Array): void => { update = u }
  doc.once('update', capture)
  doc.getText('t').insert(doc.getText('t').length, s)
  return update!
}

const content = (name: string, stored: Awaited<ReturnType<DocumentStore['load']>>): string => {
  const doc = buildDoc(name, stored)
  const s = doc.getText('t').toString()
  doc.destroy()
  return s
}

describe.each(Object.keys(factories))('%s store', (kind) => {
  let h: Harness
  beforeEach(async () => { h = await factories[kind]!() })
  afterEach(async () => { await h.cleanup() })

  it('returns null for a document it never saw', async () => {
    expect(await h.store.load('nope')).toBeNull()
  })

  it('appends in order and loads the log back', async () => {
    const src = new Y.Doc()
    const updates = ['a', 'b', 'c'].map((s) => edit(src, s))
    await h.store.append(updates.map((update) => ({ document: 'doc', update, userId: 'u1' })))
    await h.store.append([{ document: 'doc', update: edit(src, 'd'), userId: null }])
    const stored = await h.store.load('doc')
    expect(stored?.snapshot).toBeNull()
    expect(stored?.updates).toHaveLength(4)
    expect(content('doc', stored)).toBe('abcd')
  })

  it('appends to several documents in one call', async () => {
    const one = new Y.Doc()
    const two = new Y.Doc()
    await h.store.append([
      { document: 'one', update: edit(one, '1'), userId: null },
      { document: 'two', update: edit(two, '2'), userId: null },
      { document: 'one', update: edit(one, '1'), userId: null },
    ])
    expect(content('one', await h.store.load('one'))).toBe('11')
    expect(content('two', await h.store.load('two'))).toBe('2')
  })

  it('compacts into a snapshot, deleting the merged rows', async () => {
    const src = new Y.Doc()
    await h.store.append(Array.from({ length: 50 }, (_, i) => ({ document: 'doc', update: edit(src, String(i % 10)), userId: null })))
    const result = await h.store.compact('doc')
    expect(result.mergedUpdates).toBe(50)
    expect(result.snapshotBytes).toBeGreaterThan(0)
    const stored = await h.store.load('doc')
    expect(stored?.updates).toHaveLength(0)
    expect(stored?.snapshot).not.toBeNull()
    expect(content('doc', stored)).toBe(src.getText('t').toString())
    expect((await h.store.compact('doc')).mergedUpdates).toBe(0)
    await h.store.append([{ document: 'doc', update: edit(src, '!'), userId: null }])
    expect(content('doc', await h.store.load('doc'))).toBe(src.getText('t').toString())
  })

  it('loses nothing when another writer appends while compaction runs', async () => {
    const other = await h.other()
    const src = new Y.Doc()
    const expected: string[] = []
    for (let round = 0; round < 20; round++) {
      const batch = Array.from({ length: 20 }, (_, i) => {
        const s = String.fromCharCode(97 + ((round + i) % 26))
        expected.push(s)
        return { document: 'busy', update: edit(src, s), userId: null }
      })
      // The compaction and the other instance's append race; neither may lose the other's rows.
      await Promise.all([h.store.compact('busy'), other.append(batch)])
    }
    await h.store.compact('busy')
    expect(content('busy', await h.store.load('busy'))).toBe(expected.join(''))
  })

  it('loses nothing when two instances compact one document at once while a third appends', async () => {
    const second = await h.other()
    const writer = await h.other()
    const src = new Y.Doc()
    const expected: string[] = []
    for (let round = 0; round < 15; round++) {
      const batch = Array.from({ length: 10 }, (_, i) => {
        const s = String.fromCharCode(65 + ((round * 3 + i) % 26))
        expected.push(s)
        return { document: 'contended', update: edit(src, s), userId: null }
      })
      // Either compaction may be overtaken by the other; the overtaken one must write nothing.
      await Promise.all([h.store.compact('contended'), second.compact('contended'), writer.append(batch)])
      expect(content('contended', await h.store.load('contended'))).toBe(expected.join(''))
    }
  })

  it('takes batches from two instances that share documents in opposite orders, all of them', async () => {
    // On PostgreSQL each batch locks its documents' rows: in different orders, that deadlocked.
    const other = await h.other()
    const names = Array.from({ length: 40 }, (_, i) => `shared-${i}`)
    const u = edit(new Y.Doc(), 'x')
    const run = async (store: DocumentStore, order: string[]): Promise<void> => {
      for (let i = 0; i < 40; i++) await store.append(order.map((document) => ({ document, update: u, userId: null })))
    }
    await Promise.all([run(h.store, names), run(other, [...names].reverse())])
    for (const name of [names[0]!, names[39]!]) expect((await h.store.load(name))?.updates).toHaveLength(80)
  })

  it('refuses to compact a snapshot that fails to decode and leaves its bytes untouched', async () => {
    const src = new Y.Doc()
    await h.store.append([{ document: 'bad', update: edit(src, 'precious'), userId: null }])
    await h.store.compact('bad')
    await h.store.append([{ document: 'bad', update: edit(src, ' more'), userId: null }])
    const snapshot = (await h.readSnapshot('bad'))!
    const corrupted = Uint8Array.from(snapshot.subarray(0, Math.floor(snapshot.length / 2)))
    await h.corruptSnapshot('bad', corrupted)
    await expect(h.store.compact('bad')).rejects.toBeInstanceOf(CorruptDocumentError)
    expect(Array.from((await h.readSnapshot('bad'))!)).toEqual(Array.from(corrupted))
    const stored = await h.store.load('bad')
    expect(stored?.updates).toHaveLength(1)
    expect(() => buildDoc('bad', stored)).toThrow(CorruptDocumentError)
  })

  it('deletes a document and its log', async () => {
    await h.store.append([{ document: 'gone', update: edit(new Y.Doc(), 'x'), userId: null }])
    expect(await h.store.delete('gone')).toBe(true)
    expect(await h.store.load('gone')).toBeNull()
    expect(await h.store.delete('gone')).toBe(false)
  })

  it('lists documents by prefix, in pages', async () => {
    for (const name of ['p/a', 'p/b', 'p/c', 'q/a']) await h.store.append([{ document: name, update: edit(new Y.Doc(), 'x'), userId: null }])
    expect((await h.store.list({ prefix: 'p/' })).map((d) => d.name)).toEqual(['p/a', 'p/b', 'p/c'])
    expect((await h.store.list({ prefix: 'p/', after: 'p/a', limit: 1 })).map((d) => d.name)).toEqual(['p/b'])
    const [first] = await h.store.list({ prefix: 'q/' })
    expect(first).toMatchObject({ name: 'q/a', logUpdates: 1, snapshotBytes: 0 })
    expect(first!.updatedAt).toBeInstanceOf(Date)
  })

  it('reports health, and keeps data across a reopen', async () => {
    const health = await h.store.health()
    expect(health.connected).toBe(true)
    expect(typeof health.latencyMs).toBe('number')
    await h.store.append([{ document: 'kept', update: edit(new Y.Doc(), 'kept'), userId: null }])
    const reopened = await h.reopen()
    expect(content('kept', await reopened.load('kept'))).toBe('kept')
  })

  it('keeps per-document grants: grant, change a role, list, revoke', async () => {
    await h.store.grant('shared', 'ann', 'editor')
    await h.store.grant('shared', 'bob', 'viewer')
    await h.store.grant('other', 'ann', 'owner')
    await h.store.grant('shared', 'bob', 'editor')
    const grants = await h.store.listGrants('shared')
    expect(grants.map((g) => [g.userId, g.role]).sort()).toEqual([['ann', 'editor'], ['bob', 'editor']])
    expect(grants.every((g) => g.document === 'shared' && g.grantedAt > 0)).toBe(true)
    expect(await h.store.revoke('shared', 'bob')).toBe(true)
    expect(await h.store.revoke('shared', 'bob')).toBe(false)
    expect((await h.store.listGrants('shared')).map((g) => g.userId)).toEqual(['ann'])
    expect((await (await h.reopen()).listGrants('other')).map((g) => g.role)).toEqual(['owner'])
  })

  it('makes the first claimant of a new document its owner, and nobody of an existing one', async () => {
    expect(await h.store.claimOwnership('fresh', 'ann')).toBe(true)
    expect(await h.store.claimOwnership('fresh', 'bob')).toBe(false)
    expect((await h.store.listGrants('fresh')).map((g) => [g.userId, g.role])).toEqual([['ann', 'owner']])
    await h.store.append([{ document: 'old', update: edit(new Y.Doc(), 'x'), userId: null }])
    expect(await h.store.claimOwnership('old', 'carol')).toBe(false)
    expect(await h.store.listGrants('old')).toEqual([])
  })

  it('deletes a document\'s grants with it', async () => {
    await h.store.append([{ document: 'gone', update: edit(new Y.Doc(), 'x'), userId: null }])
    await h.store.grant('gone', 'ann', 'owner')
    await h.store.delete('gone')
    expect(await h.store.listGrants('gone')).toEqual([])
  })

  it('lets exactly one of two instances claiming a new document at once become its owner', async () => {
    const other = await h.other()
    const results = await Promise.all([h.store.claimOwnership('contested', 'ann'), other.claimOwnership('contested', 'bob'), h.store.claimOwnership('contested', 'cy')])
    expect(results.filter(Boolean)).toHaveLength(1)
    expect((await h.store.listGrants('contested')).filter((g) => g.role === 'owner')).toHaveLength(1)
  })
})

/**
 * Appends `initial` to a fresh PostgreSQL document, starts a compaction and holds the
 * document's row so it stops right before its write, runs `meanwhile` on that row, then lets
 * the compaction finish. @returns what it says it merged and what is stored after.
 */
async function compactionOvertaken (initial: Uint8Array[], meanwhile: (admin: pg.Client) => Promise<void>): Promise<{ merged: number, stored: StoredDocument | null }> {
  const schema = await freshSchema('overtaken')
  const store = new PostgresStore({ url: schema.url, poolSize: 3, migrate: true })
  const admin = new pg.Client({ connectionString: schema.url })
  try {
    await store.open()
    await admin.connect()
    await store.append(initial.map((update) => ({ document: 'doc', update, userId: null })))
    await admin.query('BEGIN')
    await admin.query('SELECT 1 FROM yjs_document WHERE name = $1 FOR UPDATE', ['doc'])
    const compaction = store.compact('doc')
    await waitFor(async () => (await admin.query('SELECT pg_stat_clear_snapshot()')) !== null && (await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT snapshot_version%FOR UPDATE'")).rows[0].n === 1, 'the compaction to wait for the row lock')
    await meanwhile(admin)
    await admin.query('COMMIT')
    const merged = (await compaction).mergedUpdates
    return { merged, stored: await store.load('doc') }
  } finally {
    await admin.end()
    await store.close()
    await schema.drop()
  }
}

describe('postgres compaction overtaken between its read and its write', () => {
  it('writes nothing when the snapshot changed meanwhile', async () => {
    const src = new Y.Doc()
    // "Another instance" compacts meanwhile: only its version bump matters here.
    const { merged, stored } = await compactionOvertaken(Array.from({ length: 10 }, (_, i) => edit(src, String(i))), async (admin) => {
      await admin.query('UPDATE yjs_document SET snapshot_version = snapshot_version + 1 WHERE name = $1', ['doc'])
    })
    expect(merged).toBe(0)
    expect(stored?.updates).toHaveLength(10) // nothing deleted on the strength of a stale merge
    expect(content('doc', stored)).toBe('0123456789')
  })

  it('does not bring a deleted document\'s content back', async () => {
    const old = new Y.Doc()
    // The document is deleted and begun again under the same name, so its version is back at 0
    // (done on the locked row: what a delete and a new append leave behind).
    const { merged, stored } = await compactionOvertaken(Array.from({ length: 10 }, () => edit(old, 'x')), async (admin) => {
      await admin.query('DELETE FROM yjs_update_log WHERE document = $1', ['doc'])
      await admin.query('UPDATE yjs_document SET snapshot = NULL, snapshot_version = 0 WHERE name = $1', ['doc'])
      await admin.query('INSERT INTO yjs_update_log (document, "update") VALUES ($1, $2)', ['doc', Buffer.from(edit(new Y.Doc(), 'new'))])
    })
    expect(merged).toBe(0)
    expect(content('doc', stored)).toBe('new')
  })
})
