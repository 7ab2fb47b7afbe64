/**
 * The production store: PostgreSQL through a `pg` pool (PG_POOL_SIZE connections).
 *
 * Same contract as the SQLite store. Appends are one transaction per batch, inserted with one
 * multi-row statement per document run. Compaction merges in a worker thread with no lock
 * held and writes only if the snapshot has not moved (ARCHITECTURE.md, "Compaction"). The pool's idle-client errors are
 * handled: a database that goes away makes operations fail (and the durability queue retry),
 * never the process crash.
 */
import pg from 'pg'
import { CorruptDocumentError, StoreUnavailableError } from '../errors.js'
import { MIGRATION_LOCK_KEY, postgresMigrations } from './migrations/postgres.js'
import { SnapshotMerger } from './merger.js'
import type { AppendEntry, CompactionResult, DocumentStore, DocumentSummary, Grant, GrantRole, ListOptions, StoreHealth, StoredDocument } from './types.js'

export interface PostgresStoreOptions {
  readonly url: string
  readonly poolSize: number
  /** Run migrations in `open()` (MIGRATE_ON_START); otherwise check they have been run. */
  readonly migrate: boolean
}

/** Rows per INSERT statement: well under PostgreSQL's 65,535 parameters at 3 per row. */
const ROWS_PER_INSERT = 1000

export class PostgresStore implements DocumentStore {
  readonly kind = 'postgres'
  private readonly pool: pg.Pool
  /** Compaction merges in a worker thread: decoding a big document would stall the connections. */
  private readonly merger = new SnapshotMerger()
  private closed = false

  constructor (private readonly options: PostgresStoreOptions) {
    this.pool = new pg.Pool({ connectionString: options.url, max: options.poolSize, connectionTimeoutMillis: 5000 })
    this.pool.on('error', () => { /* an idle client lost its connection; the next query reconnects */ })
  }

  async open (): Promise<void> {
    if (this.options.migrate) {
      await migratePostgres(this.pool)
      return
    }
    const pending = await pendingMigrations(this.pool)
    if (pending.length > 0) throw new StoreUnavailableError(`PostgreSQL schema is behind: run \`collabd migrate\` (pending: ${pending.join(', ')})`)
  }

  async load (name: string): Promise<StoredDocument | null> {
    return await this.transaction(async (c) => {
      // REPEATABLE READ: the snapshot and the log come from one moment, even while another
      // instance compacts.
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ')
      const doc = await c.query<{ snapshot: Buffer | null }>('SELECT snapshot FROM yjs_document WHERE name = $1', [name])
      const log = await c.query<{ update: Buffer }>('SELECT "update" FROM yjs_update_log WHERE document = $1 ORDER BY id', [name])
      if (doc.rows.length === 0 && log.rows.length === 0) return null
      return { snapshot: doc.rows[0]?.snapshot ?? null, updates: log.rows.map((r) => r.update) }
    })
  }

  async append (entries: readonly AppendEntry[]): Promise<void> {
    if (entries.length === 0) return
    await this.transaction(async (c) => {
      // The upsert locks the document rows in the order given: sorted, so two instances whose
      // batches share documents always lock them in the same order and never deadlock.
      const documents = [...new Set(entries.map((e) => e.document))].sort()
      await c.query(
        `INSERT INTO yjs_document (name) SELECT name FROM unnest($1::text[]) WITH ORDINALITY AS t(name, n) ORDER BY n
         ON CONFLICT (name) DO UPDATE SET updated_at = now()`, [documents])
      for (let i = 0; i < entries.length; i += ROWS_PER_INSERT) {
        const chunk = entries.slice(i, i + ROWS_PER_INSERT)
        const values: unknown[] = []
        const rows = chunk.map((e, j) => {
          values.push(e.document, Buffer.from(e.update.buffer, e.update.byteOffset, e.update.byteLength), e.userId)
          return `($${j * 3 + 1}, $${j * 3 + 2}, $${j * 3 + 3})`
        })
        await c.query(`INSERT INTO yjs_update_log (document, "update", user_id) VALUES ${rows.join(', ')}`, values)
      }
    })
  }

  /**
   * Reads the snapshot and the log, merges them in the worker with no transaction open, then in
   * a short transaction writes the new snapshot and deletes exactly the rows it merged. The
   * merge can take tens of milliseconds for a big document; holding the document's row lock
   * that long would hold up every append to it (appends touch that row), on every instance. A
   * compaction overtaken by another (the snapshot version moved) writes nothing.
   */
  async compact (name: string): Promise<CompactionResult> {
    const read = await this.transaction(async (c) => {
      // One consistent view of the snapshot and the log.
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ')
      const doc = await c.query<{ snapshot: Buffer | null, snapshot_version: string }>('SELECT snapshot, snapshot_version FROM yjs_document WHERE name = $1', [name])
      const log = await c.query<{ id: string, update: Buffer }>('SELECT id, "update" FROM yjs_update_log WHERE document = $1 ORDER BY id', [name])
      return { snapshot: doc.rows[0]?.snapshot ?? null, version: doc.rows[0]?.snapshot_version ?? null, log: log.rows }
    })
    const nothing = { mergedUpdates: 0, mergedBytes: 0, snapshotBytes: read.snapshot?.length ?? 0 }
    if (read.log.length === 0 || read.version === null) return nothing
    const snapshot = await this.merger.merge(name, read.snapshot, read.log.map((r) => r.update))
    const written = await this.transaction(async (c) => {
      const current = await c.query<{ snapshot_version: string }>('SELECT snapshot_version FROM yjs_document WHERE name = $1 FOR UPDATE', [name])
      if (current.rows[0]?.snapshot_version !== read.version) return false
      // By id, not `id <= last`: an append that took a lower id but committed after the read
      // is not in this merge and must stay.
      const deleted = await c.query('DELETE FROM yjs_update_log WHERE id = ANY($1::bigint[])', [read.log.map((r) => r.id)])
      if (deleted.rowCount !== read.log.length) {
        // Rows went missing since the read: the document was deleted (and perhaps begun
        // again). Writing this merge would bring the deleted content back.
        await c.query('ROLLBACK')
        await c.query('BEGIN')
        return false
      }
      await c.query(
        `UPDATE yjs_document SET snapshot = $2, snapshot_bytes = $3, snapshot_version = snapshot_version + 1,
                updated_at = now(), compacted_at = now()
          WHERE name = $1`,
        [name, Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength), snapshot.length])
      return true
    })
    if (!written) return nothing
    return { mergedUpdates: read.log.length, mergedBytes: read.log.reduce((n, r) => n + r.update.length, 0), snapshotBytes: snapshot.length }
  }

  async delete (name: string): Promise<boolean> {
    return await this.transaction(async (c) => {
      // The document row first, as appends and compactions do: an append in flight then
      // finishes before the log is deleted (its rows go too) instead of leaving rows behind.
      await c.query('SELECT 1 FROM yjs_document WHERE name = $1 FOR UPDATE', [name])
      const logRows = (await c.query('DELETE FROM yjs_update_log WHERE document = $1', [name])).rowCount ?? 0
      const docRows = (await c.query('DELETE FROM yjs_document WHERE name = $1', [name])).rowCount ?? 0
      await c.query('DELETE FROM document_access WHERE document = $1', [name])
      return logRows + docRows > 0
    })
  }

  async list (options: ListOptions = {}): Promise<DocumentSummary[]> {
    const { rows } = await this.query<{ name: string, snapshot_bytes: number, updated_at: Date, log_updates: string }>(
      `SELECT d.name, d.snapshot_bytes, d.updated_at,
              (SELECT count(*) FROM yjs_update_log l WHERE l.document = d.name) AS log_updates
         FROM yjs_document d
        WHERE left(d.name, length($1)) = $1 AND d.name COLLATE "C" > $2 COLLATE "C"
        ORDER BY d.name COLLATE "C" LIMIT $3`, [options.prefix ?? '', options.after ?? '', options.limit ?? 100])
    return rows.map((r) => ({ name: r.name, snapshotBytes: r.snapshot_bytes, logUpdates: Number(r.log_updates), updatedAt: r.updated_at }))
  }

  async listGrants (document: string): Promise<Grant[]> {
    const { rows } = await this.query<{ user_id: string, role: GrantRole, granted_at: Date }>(
      'SELECT user_id, role, granted_at FROM document_access WHERE document = $1 ORDER BY granted_at, user_id', [document])
    return rows.map((r) => ({ document, userId: r.user_id, role: r.role, grantedAt: r.granted_at.getTime() }))
  }

  async grant (document: string, userId: string, role: GrantRole): Promise<void> {
    await this.query(
      `INSERT INTO document_access (document, user_id, role) VALUES ($1, $2, $3)
       ON CONFLICT (document, user_id) DO UPDATE SET role = excluded.role`, [document, userId, role])
  }

  async revoke (document: string, userId: string): Promise<boolean> {
    return ((await this.query('DELETE FROM document_access WHERE document = $1 AND user_id = $2', [document, userId])).rowCount ?? 0) > 0
  }

  async claimOwnership (document: string, userId: string): Promise<boolean> {
    return await this.transaction(async (c) => {
      // Claims of one document take turns (two first writers on two instances): under the
      // lock, the second sees the first's grant and claims nothing.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [document])
      const { rowCount } = await c.query(
        `INSERT INTO document_access (document, user_id, role)
         SELECT $1, $2, 'owner'
          WHERE NOT EXISTS (SELECT 1 FROM document_access WHERE document = $1)
            AND NOT EXISTS (SELECT 1 FROM yjs_document WHERE name = $1)`, [document, userId])
      return (rowCount ?? 0) > 0
    })
  }

  async health (): Promise<StoreHealth> {
    const start = performance.now()
    try {
      await this.query('SELECT 1')
      return { connected: true, latencyMs: Math.round((performance.now() - start) * 100) / 100 }
    } catch {
      return { connected: false, latencyMs: null, error: 'PostgreSQL unavailable' }
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([this.pool.end(), this.merger.close()])
  }

  private async query<R extends pg.QueryResultRow = pg.QueryResultRow> (text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new StoreUnavailableError('PostgreSQL store is closed')
    try {
      return await this.pool.query<R>(text, values)
    } catch (err) {
      throw unavailable(err)
    }
  }

  private async transaction<T> (work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('PostgreSQL store is closed')
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (err) {
      throw unavailable(err)
    }
    // A checked-out client whose connection drops emits 'error'; unheard, that would end the
    // process. The failing query rejects anyway, which is what the caller handles.
    client.on('error', ignoreClientError)
    let broken = false
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      try {
        await client.query('ROLLBACK')
      } catch {
        broken = true
      }
      if (err instanceof CorruptDocumentError) throw err
      throw unavailable(err)
    } finally {
      client.off('error', ignoreClientError)
      client.release(broken)
    }
  }
}

const ignoreClientError = (): void => {}

/** Database errors become StoreUnavailableError (retried by the durability queue); the cause keeps the detail. */
function unavailable (err: unknown): Error {
  if (err instanceof StoreUnavailableError || err instanceof CorruptDocumentError) return err
  return new StoreUnavailableError(`PostgreSQL: ${(err as Error)?.message ?? String(err)}`, err)
}

async function pendingMigrations (pool: pg.Pool): Promise<string[]> {
  const exists = await pool.query<{ t: string | null }>("SELECT to_regclass('collabd_migrations') AS t")
  const applied = exists.rows[0]?.t === null
    ? new Set<number>()
    : new Set((await pool.query<{ version: number }>('SELECT version FROM collabd_migrations')).rows.map((r) => r.version))
  return postgresMigrations.filter((m) => !applied.has(m.version)).map((m) => `${m.version} ${m.name}`)
}

/**
 * Applies pending migrations under one session-level advisory lock held for the whole run, so
 * two instances starting at once never interleave: one applies everything pending, the other
 * waits and then finds nothing to do. Each migration still commits in its own transaction, so
 * a failing one keeps the ones before it. If the connection drops, PostgreSQL releases the
 * lock with the session. @returns the versions applied now.
 */
export async function migratePostgres (pool: pg.Pool): Promise<number[]> {
  const applied: number[] = []
  const client = await pool.connect()
  client.on('error', ignoreClientError)
  let locked = false
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
    locked = true
    await client.query('CREATE TABLE IF NOT EXISTS collabd_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())')
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM collabd_migrations')).rows.map((r) => r.version))
    for (const m of postgresMigrations) {
      if (done.has(m.version)) continue
      await client.query('BEGIN')
      try {
        await client.query(m.sql)
        await client.query('INSERT INTO collabd_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw err
      }
      applied.push(m.version)
    }
  } finally {
    // A client whose unlock failed may still hold the lock: destroy it rather than pool it.
    const unlocked = !locked || await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).then(() => true, () => false)
    client.off('error', ignoreClientError)
    client.release(!unlocked)
  }
  return applied
}
