/** Picks the DocumentStore named by the configuration. */
import { DEFAULT_SQLITE_PATH, type StorageConfig } from '../config.js'
import { MemoryStore } from './memory.js'
import { PostgresStore } from './postgres.js'
import { SqliteStore } from './sqlite.js'
import type { DocumentStore } from './types.js'

export interface CreateStoreOptions {
  /**
   * 'serve' (default): the store of a server. SQLite takes the single-server lock and creates
   * a missing file (and collabd's default `data/` folder, no other); PostgreSQL migrates when
   * MIGRATE_ON_START says so.
   * 'manage': for commands that read or manage beside a running server. Nothing is created:
   * a SQLite file must already be a collabd store, and PostgreSQL is not migrated (its open()
   * then refuses a schema that is behind and names `collabd migrate`).
   */
  readonly use?: 'serve' | 'manage'
}

export function createStore (config: StorageConfig, options: CreateStoreOptions = {}): DocumentStore {
  const use = options.use ?? 'serve'
  switch (config.kind) {
    case 'memory': return new MemoryStore()
    case 'sqlite': return new SqliteStore({ path: config.path, synchronous: config.synchronous, use, createFolders: use === 'serve' && config.path === DEFAULT_SQLITE_PATH })
    case 'postgres': return new PostgresStore({ url: config.url, poolSize: config.poolSize, migrate: use === 'serve' && config.migrate })
  }
}

/** Where the store keeps its data, for the startup log line (never includes credentials). */
export function describeStorage (config: StorageConfig): string {
  switch (config.kind) {
    case 'memory': return 'memory (nothing is persisted)'
    case 'sqlite': return `sqlite ${config.path} (synchronous=${config.synchronous})`
    case 'postgres': return `postgres ${redactUrl(config.url)} (pool ${config.poolSize})`
  }
}

/** A database URL without its password. */
export function redactUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return 'postgres://(unparsable URL)'
  }
}

export type * from './types.js'
export { PostgresStore, migratePostgres } from './postgres.js'
export { MemoryStore } from './memory.js'
export { SqliteStore, type SqliteStoreOptions } from './sqlite.js'
