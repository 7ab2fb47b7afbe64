/** Picks the DocumentStore named by the configuration. */
import type { StorageConfig } from '../config.js'
import { MemoryStore } from './memory.js'
import { PostgresStore } from './postgres.js'
import { SqliteStore } from './sqlite.js'
import type { DocumentStore } from './types.js'

export function createStore (config: StorageConfig): DocumentStore {
  switch (config.kind) {
    case 'memory': return new MemoryStore()
    case 'sqlite': return new SqliteStore({ path: config.path, synchronous: config.synchronous })
    case 'postgres': return new PostgresStore({ url: config.url, poolSize: config.poolSize, migrate: config.migrate })
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
export { SqliteStore } from './sqlite.js'
