/**
 * The SQLite store's worker thread. better-sqlite3 is synchronous and a durable commit waits
 * for fsync, so every statement runs here, off the event loop: a commit never stalls the
 * connections. The main thread (sqlite.ts) sends one request at a time per operation and this
 * thread runs them in arrival order.
 *
 * Durability: WAL journal with synchronous=FULL fsyncs the WAL on every commit, which survives
 * a killed process and a power loss. synchronous=NORMAL skips that fsync: still safe against a
 * crash of the process, but a power loss can lose the last commits.
 */
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { CorruptDocumentError } from '../errors.js'
import { sqliteMigrations } from './migrations/sqlite.js'
import { mergeToSnapshot } from './snapshot.js'
import { forEachPacked, type PackedEntries } from './append-batch.js'
import type { CompactionResult, DocumentSummary, GrantRole, ListOptions, StoredDocument } from './types.js'

export interface SqliteWorkerData {
  readonly path: string
  readonly synchronous: 'full' | 'normal'
  /** Fail rather than create the file (the main thread decided what may be created). */
  readonly fileMustExist: boolean
}

export type SqliteRequest =
  | { id: number, op: 'open' }
  | { id: number, op: 'load', name: string }
  | { id: number, op: 'append', entries: PackedEntries }
  | { id: number, op: 'compact', name: string }
  | { id: number, op: 'delete', name: string }
  | { id: number, op: 'list', options: ListOptions }
  | { id: number, op: 'ping' }
  | { id: number, op: 'listGrants', document: string }
  | { id: number, op: 'grant', document: string, userId: string, role: GrantRole }
  | { id: number, op: 'revoke', document: string, userId: string }
  | { id: number, op: 'claimOwnership', document: string, userId: string }
  | { id: number, op: 'close' }

export interface SerializedError {
  name: string
  code: string | null
  message: string
  /** Set for CorruptDocumentError, so the main thread can rebuild it. */
  corrupt: { documentName: string, detail: string } | null
}

export type SqliteResponse =
  | { id: number, ok: true, value: unknown }
  | { id: number, ok: false, error: SerializedError }

const config = workerData as SqliteWorkerData
let db: Database.Database | null = null
let statements: ReturnType<typeof prepare> | null = null

function open (): void {
  if (db !== null) return
  const handle = new Database(config.path, { fileMustExist: config.fileMustExist })
  handle.pragma('journal_mode = WAL')
  handle.pragma(`synchronous = ${config.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
  // Another process (a second instance, a backup) holding the write lock briefly is not an error.
  handle.pragma('busy_timeout = 5000')
  migrate(handle)
  db = handle
  statements = prepare(handle)
}

function migrate (handle: Database.Database): void {
  handle.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)')
  const applied = handle.prepare('SELECT version FROM schema_migrations WHERE version = ?')
  const record = handle.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
  for (const migration of sqliteMigrations) {
    // IMMEDIATE takes the write lock first, so two processes starting at once run each
    // migration exactly once.
    handle.transaction(() => {
      if (applied.get(migration.version) !== undefined) return
      handle.exec(migration.sql)
      record.run(migration.version, migration.name, Date.now())
    }).immediate()
  }
}

function prepare (handle: Database.Database) {
  return {
    snapshot: handle.prepare<[string], { snapshot: Buffer | null }>('SELECT snapshot FROM yjs_document WHERE name = ?'),
    log: handle.prepare<[string], { id: number, update: Buffer }>('SELECT id, "update" FROM yjs_update_log WHERE document = ? ORDER BY id'),
    touch: handle.prepare('INSERT INTO yjs_document (name, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at'),
    insert: handle.prepare('INSERT INTO yjs_update_log (document, "update", user_id, created_at) VALUES (?, ?, ?, ?)'),
    writeSnapshot: handle.prepare('INSERT INTO yjs_document (name, snapshot, snapshot_bytes, created_at, updated_at, compacted_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET snapshot = excluded.snapshot, snapshot_bytes = excluded.snapshot_bytes, updated_at = excluded.updated_at, compacted_at = excluded.compacted_at'),
    deleteMerged: handle.prepare('DELETE FROM yjs_update_log WHERE document = ? AND id <= ?'),
    deleteLog: handle.prepare('DELETE FROM yjs_update_log WHERE document = ?'),
    deleteDocument: handle.prepare('DELETE FROM yjs_document WHERE name = ?'),
    list: handle.prepare<[string, string, string, number], { name: string, snapshot_bytes: number, updated_at: number, log_updates: number }>(
      `SELECT d.name, d.snapshot_bytes, d.updated_at,
              (SELECT COUNT(*) FROM yjs_update_log l WHERE l.document = d.name) AS log_updates
         FROM yjs_document d
        WHERE substr(d.name, 1, length(?)) = ? AND d.name > ?
        ORDER BY d.name LIMIT ?`),
    ping: handle.prepare('SELECT 1'),
    listGrants: handle.prepare('SELECT document, user_id AS userId, role, granted_at AS grantedAt FROM document_access WHERE document = ? ORDER BY granted_at, user_id'),
    grant: handle.prepare('INSERT INTO document_access (document, user_id, role, granted_at) VALUES (?, ?, ?, ?) ON CONFLICT (document, user_id) DO UPDATE SET role = excluded.role'),
    revoke: handle.prepare('DELETE FROM document_access WHERE document = ? AND user_id = ?'),
    revokeAll: handle.prepare('DELETE FROM document_access WHERE document = ?'),
    claim: handle.prepare(`INSERT INTO document_access (document, user_id, role, granted_at)
      SELECT ?, ?, 'owner', ? WHERE NOT EXISTS (SELECT 1 FROM document_access WHERE document = ?)
        AND NOT EXISTS (SELECT 1 FROM yjs_document WHERE name = ?)`),
  }
}

const stmts = (): NonNullable<typeof statements> => {
  if (statements === null) throw new Error('SQLite store is not open')
  return statements
}

/** better-sqlite3 binds Buffers; structured clone turned them into plain Uint8Arrays. */
const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength)

function load (name: string): StoredDocument | null {
  const s = stmts()
  // One read transaction: the snapshot and the log are consistent with each other even if
  // another process compacts in between.
  return db!.transaction(() => {
    const row = s.snapshot.get(name)
    const log = s.log.all(name)
    if (row === undefined && log.length === 0) return null
    return { snapshot: row?.snapshot ?? null, updates: log.map((r) => r.update) }
  })()
}

function append (entries: PackedEntries): void {
  const s = stmts()
  const now = Date.now()
  db!.transaction(() => {
    let last: string | null = null
    forEachPacked(entries, (document, update, userId) => {
      // Entries usually come grouped by document; touch the document row once per run.
      if (document !== last) {
        s.touch.run(document, now, now)
        last = document
      }
      s.insert.run(document, asBuffer(update), userId, now)
    })
  }).immediate()
}

function compact (name: string): CompactionResult {
  const s = stmts()
  // IMMEDIATE: the rows read are exactly the rows deleted; nobody appends in between.
  return db!.transaction((): CompactionResult => {
    const log = s.log.all(name)
    const row = s.snapshot.get(name)
    if (log.length === 0) return { mergedUpdates: 0, mergedBytes: 0, snapshotBytes: row?.snapshot?.length ?? 0 }
    const snapshot = mergeToSnapshot(name, row?.snapshot ?? null, log.map((r) => r.update))
    const now = Date.now()
    s.writeSnapshot.run(name, asBuffer(snapshot), snapshot.length, now, now, now)
    s.deleteMerged.run(name, log[log.length - 1]!.id)
    return { mergedUpdates: log.length, mergedBytes: log.reduce((n, r) => n + r.update.length, 0), snapshotBytes: snapshot.length }
  }).immediate()
}

function remove (name: string): boolean {
  const s = stmts()
  return db!.transaction(() => {
    const logRows = s.deleteLog.run(name).changes
    const docRows = s.deleteDocument.run(name).changes
    s.revokeAll.run(name)
    return logRows + docRows > 0
  }).immediate()
}

function list (options: ListOptions): DocumentSummary[] {
  const prefix = options.prefix ?? ''
  const after = options.after ?? ''
  return stmts().list.all(prefix, prefix, after, options.limit ?? 100).map((r) => ({
    name: r.name,
    snapshotBytes: r.snapshot_bytes,
    logUpdates: r.log_updates,
    updatedAt: new Date(r.updated_at),
  }))
}

function handle (req: SqliteRequest): unknown {
  switch (req.op) {
    case 'open': return open()
    case 'load': return load(req.name)
    case 'append': return append(req.entries)
    case 'compact': return compact(req.name)
    case 'delete': return remove(req.name)
    case 'list': return list(req.options)
    case 'ping': return stmts().ping.get()
    case 'listGrants': return stmts().listGrants.all(req.document)
    case 'grant': return void stmts().grant.run(req.document, req.userId, req.role, Date.now())
    case 'revoke': return stmts().revoke.run(req.document, req.userId).changes > 0
    case 'claimOwnership': return stmts().claim.run(req.document, req.userId, Date.now(), req.document, req.document).changes > 0
    case 'close':
      db?.close()
      db = null
      statements = null
      return undefined
  }
}

function serialize (err: unknown): SerializedError {
  const e = err instanceof Error ? err : new Error(String(err))
  const code = (e as Error & { code?: unknown }).code
  return {
    name: e.name,
    code: typeof code === 'string' ? code : null,
    message: e.message,
    corrupt: e instanceof CorruptDocumentError ? { documentName: e.documentName, detail: e.detail } : null,
  }
}

parentPort!.on('message', (req: SqliteRequest) => {
  let response: SqliteResponse
  try {
    response = { id: req.id, ok: true, value: handle(req) }
  } catch (err) {
    response = { id: req.id, ok: false, error: serialize(err) }
  }
  parentPort!.postMessage(response)
})
