/**
 * The storage interface. A document is stored as a snapshot (a merged Yjs update, written by
 * compaction) plus an append-only log of the updates accepted since. Loading reads both;
 * compaction merges them into a new snapshot and deletes exactly the log rows it merged, so other
 * writers may keep appending to the same document meanwhile (ARCHITECTURE.md, "Compaction").
 *
 * Implementations: memory (tests, demos), SQLite (default; writes run in a worker thread) and
 * PostgreSQL (a `pg` pool, for several instances). All of them pass test/contract/store.test.ts.
 */
import type { Role } from '../roles.js'

export interface StoredDocument {
  /** The last compacted state, or null if the document was never compacted. */
  readonly snapshot: Uint8Array | null
  /** Log rows after the snapshot, oldest first. */
  readonly updates: readonly Uint8Array[]
}

export interface AppendEntry {
  readonly document: string
  /** A Yjs update (v1 encoding) exactly as accepted from a client. */
  readonly update: Uint8Array
  /** Who sent it, when known; kept for audit, never interpreted. */
  readonly userId: string | null
}

export interface CompactionResult {
  /** Log rows merged into the snapshot and deleted. */
  readonly mergedUpdates: number
  /** Their total size in bytes. */
  readonly mergedBytes: number
  /** Size of the snapshot now stored. */
  readonly snapshotBytes: number
}

export interface DocumentSummary {
  readonly name: string
  readonly snapshotBytes: number
  /** Log rows not yet compacted. */
  readonly logUpdates: number
  readonly updatedAt: Date
}

export interface ListOptions {
  /** Only names starting with this. */
  readonly prefix?: string
  /** Only names sorting after this one (for paging). */
  readonly after?: string
  /** At most this many; default 100. */
  readonly limit?: number
}

export interface StoreHealth {
  readonly connected: boolean
  /** Round-trip of a trivial query in milliseconds, null when not connected. */
  readonly latencyMs: number | null
  /** Why it is not connected; generic text, safe to show. */
  readonly error?: string
}

/** One user's role on one document (the `document_access` table). */
export interface Grant {
  readonly document: string
  readonly userId: string
  readonly role: GrantRole
  /** ms since epoch */
  readonly grantedAt: number
}

/** A grant gives one of the roles (src/roles.ts). */
export type GrantRole = Role

export interface DocumentStore {
  /** `memory`, `sqlite`, `postgres`: for logs and /health. */
  readonly kind: string
  /** Connects and runs migrations. Called once before anything else. */
  open (): Promise<void>
  /**
   * Reads a document: snapshot plus the log after it, consistent with each other.
   * @returns null when the store has never seen the document.
   */
  load (name: string): Promise<StoredDocument | null>
  /**
   * Appends updates (possibly to several documents) in ONE transaction: when the promise
   * resolves, every entry is durable; when it rejects, none is.
   */
  append (entries: readonly AppendEntry[]): Promise<void>
  /**
   * Merges the snapshot and every log row into a new snapshot and deletes exactly those rows,
   * in one transaction. Never writes when the stored bytes fail to decode: it throws
   * CorruptDocumentError and leaves them untouched.
   */
  compact (name: string): Promise<CompactionResult>
  /** Deletes the document, its log and its grants. @returns whether it existed. */
  delete (name: string): Promise<boolean>
  /** The grants of a document, oldest first. */
  listGrants (document: string): Promise<Grant[]>
  /** Gives `userId` `role` on `document`, replacing the role it had. */
  grant (document: string, userId: string, role: GrantRole): Promise<void>
  /** Takes `userId`'s grant on `document` away. @returns whether there was one. */
  revoke (document: string, userId: string): Promise<boolean>
  /**
   * Records `userId` as the owner of `document` if the document is new: never stored, and no
   * grants. Atomic, so two first editors cannot both become owner.
   * @returns whether `userId` became the owner.
   */
  claimOwnership (document: string, userId: string): Promise<boolean>
  list (options?: ListOptions): Promise<DocumentSummary[]>
  health (): Promise<StoreHealth>
  /** Waits for in-flight operations and releases connections/threads. */
  close (): Promise<void>
}
