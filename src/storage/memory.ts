/**
 * A store that keeps everything in process memory and persists nothing (DATABASE_URL=memory:).
 * For tests and demos. Same semantics as the durable stores, including compaction that refuses
 * to overwrite bytes that fail to decode; copies every buffer in and out so callers cannot
 * mutate stored state.
 */
import { mergeToSnapshot } from './snapshot.js'
import type { AppendEntry, CompactionResult, DocumentStore, DocumentSummary, Grant, GrantRole, ListOptions, StoreHealth, StoredDocument } from './types.js'

interface MemoryDocument {
  snapshot: Uint8Array | null
  log: Uint8Array[]
  updatedAt: Date
}

export class MemoryStore implements DocumentStore {
  readonly kind = 'memory'
  private readonly documents = new Map<string, MemoryDocument>()
  /** document -> user -> grant */
  private readonly grants = new Map<string, Map<string, Grant>>()
  private closed = false

  async open (): Promise<void> {}

  async load (name: string): Promise<StoredDocument | null> {
    this.assertOpen()
    const doc = this.documents.get(name)
    if (doc === undefined) return null
    return { snapshot: doc.snapshot === null ? null : doc.snapshot.slice(), updates: doc.log.map((u) => u.slice()) }
  }

  async append (entries: readonly AppendEntry[]): Promise<void> {
    this.assertOpen()
    const now = new Date()
    for (const entry of entries) {
      let doc = this.documents.get(entry.document)
      if (doc === undefined) {
        doc = { snapshot: null, log: [], updatedAt: now }
        this.documents.set(entry.document, doc)
      }
      doc.log.push(entry.update.slice())
      doc.updatedAt = now
    }
  }

  async compact (name: string): Promise<CompactionResult> {
    this.assertOpen()
    const doc = this.documents.get(name)
    if (doc === undefined || doc.log.length === 0) {
      return { mergedUpdates: 0, mergedBytes: 0, snapshotBytes: doc?.snapshot?.length ?? 0 }
    }
    const merged = doc.log.slice()
    const snapshot = mergeToSnapshot(name, doc.snapshot, merged)
    doc.snapshot = snapshot
    doc.log.splice(0, merged.length)
    return { mergedUpdates: merged.length, mergedBytes: merged.reduce((n, u) => n + u.length, 0), snapshotBytes: snapshot.length }
  }

  async delete (name: string): Promise<boolean> {
    this.assertOpen()
    this.grants.delete(name)
    return this.documents.delete(name)
  }

  async listGrants (document: string): Promise<Grant[]> {
    this.assertOpen()
    return [...(this.grants.get(document)?.values() ?? [])]
  }

  async grant (document: string, userId: string, role: GrantRole): Promise<void> {
    this.assertOpen()
    let forDocument = this.grants.get(document)
    if (forDocument === undefined) {
      forDocument = new Map()
      this.grants.set(document, forDocument)
    }
    const existing = forDocument.get(userId)
    forDocument.set(userId, { document, userId, role, grantedAt: existing?.grantedAt ?? Date.now() })
  }

  async revoke (document: string, userId: string): Promise<boolean> {
    this.assertOpen()
    const forDocument = this.grants.get(document)
    const removed = forDocument?.delete(userId) ?? false
    if (forDocument?.size === 0) this.grants.delete(document)
    return removed
  }

  async claimOwnership (document: string, userId: string): Promise<boolean> {
    this.assertOpen()
    if (this.documents.has(document) || this.grants.has(document)) return false
    await this.grant(document, userId, 'owner')
    return true
  }

  async list (options: ListOptions = {}): Promise<DocumentSummary[]> {
    this.assertOpen()
    const { prefix = '', after = null, limit = 100 } = options
    return [...this.documents.keys()]
      .filter((name) => name.startsWith(prefix) && (after === null || name > after))
      .sort()
      .slice(0, limit)
      .map((name) => {
        const doc = this.documents.get(name)!
        return { name, snapshotBytes: doc.snapshot?.length ?? 0, logUpdates: doc.log.length, updatedAt: doc.updatedAt }
      })
  }

  async health (): Promise<StoreHealth> {
    return this.closed ? { connected: false, latencyMs: null, error: 'store closed' } : { connected: true, latencyMs: 0 }
  }

  async close (): Promise<void> {
    this.closed = true
  }

  private assertOpen (): void {
    if (this.closed) throw new Error('memory store is closed')
  }
}
