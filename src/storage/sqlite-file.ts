/**
 * What a SQLite store may do with the file it is given, before anything opens it for writing.
 *
 * A server creates a missing store file, but not the folders a user typed (a typo in
 * DATABASE_URL would otherwise create a new, empty store somewhere and serve it); only
 * collabd's default `data/` folder is created, so a fresh clone starts with no setup. A
 * management command (grant, export, ...) never creates anything: a missing file means it was
 * run from the wrong directory or with the wrong DATABASE_URL, and an empty new store would
 * answer "no grants", "no document" as if that were true. A file that exists but is not a
 * collabd store is refused by both, before anything writes to it (not even a WAL switch).
 */
import { existsSync, mkdirSync, statSync } from 'node:fs'
import * as path from 'node:path'
import Database from 'better-sqlite3'
import { StoreRefusedError } from '../errors.js'

/** What the file at a store's path is. */
export type StoreFileState = 'absent' | 'empty' | 'store' | 'not-sqlite' | 'foreign'

/** Looks at `file` without changing it (read-only, and nothing is created). */
export function inspectStoreFile (file: string): StoreFileState {
  if (!existsSync(file)) return 'absent'
  if (statSync(file).size === 0) return 'empty'
  let db: Database.Database
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
  } catch (err) {
    if ((err as { code?: unknown }).code === 'SQLITE_NOTADB') return 'not-sqlite'
    throw err
  }
  try {
    const tables = new Set(db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name))
    if (tables.size === 0) return 'empty'
    return tables.has('yjs_document') && tables.has('schema_migrations') ? 'store' : 'foreign'
  } catch (err) {
    if ((err as { code?: unknown }).code === 'SQLITE_NOTADB') return 'not-sqlite'
    throw err
  } finally {
    db.close()
  }
}

export interface StoreFileRules {
  /** 'serve' creates a missing file; 'manage' refuses one. */
  readonly use: 'serve' | 'manage'
  /** With 'serve': also create missing folders (collabd's default location only). */
  readonly createFolders: boolean
}

/**
 * Checks `file` against the rules and creates the folders the rules allow.
 * @throws {StoreRefusedError} naming the file and what to do.
 */
export function prepareStoreFile (file: string, rules: StoreFileRules): void {
  const state = inspectStoreFile(file)
  if (state === 'not-sqlite') throw new StoreRefusedError('not-a-store', `${file} is not a SQLite database, so not a collabd store; collabd leaves it untouched`)
  if (state === 'foreign') throw new StoreRefusedError('not-a-store', `${file} is a SQLite database but not a collabd store (it has no yjs_document table); collabd leaves it untouched`)
  if (rules.use === 'manage') {
    if (state === 'absent') throw new StoreRefusedError('missing', `there is no collabd store at ${path.resolve(file)}`)
    if (state === 'empty') throw new StoreRefusedError('not-a-store', `${file} is empty, not a collabd store yet (collabd start creates one)`)
    return
  }
  const folder = path.dirname(path.resolve(file))
  if (existsSync(folder)) return
  if (!rules.createFolders) throw new StoreRefusedError('missing', `the folder ${folder} for the SQLite store ${file} does not exist; collabd creates the store file but not its folder`)
  mkdirSync(folder, { recursive: true })
}
