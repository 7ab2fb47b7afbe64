/**
 * A DocumentStore wrapper (a stand-in for an interface we own, around a real store) that can
 * hold appends until the test releases them, fail them, and count calls. Lets a test see what
 * the server does while a write is in flight.
 */
import type { AppendEntry, CompactionResult, DocumentStore, DocumentSummary, Grant, GrantRole, ListOptions, StoreHealth, StoredDocument } from '../../dist/index.js'

export class GatedStore implements DocumentStore {
  readonly kind: string
  /** Entries of every append call, in call order. */
  readonly appendCalls: AppendEntry[][] = []
  loads = 0
  compactions = 0
  private gate: Promise<void> | null = null
  private openGate: (() => void) | null = null
  failAppends: Error | null = null
  /** Delay every load by this many ms (to make concurrent first joins overlap). */
  loadDelayMs = 0

  constructor (readonly inner: DocumentStore) {
    this.kind = inner.kind
  }

  hold (): void {
    this.gate = new Promise((resolve) => { this.openGate = resolve })
  }

  release (): void {
    this.openGate?.()
    this.gate = null
    this.openGate = null
  }

  async open (): Promise<void> { await this.inner.open() }

  async listGrants (document: string): Promise<Grant[]> { return await this.inner.listGrants(document) }
  async grant (document: string, userId: string, role: GrantRole): Promise<void> { await this.inner.grant(document, userId, role) }
  async revoke (document: string, userId: string): Promise<boolean> { return await this.inner.revoke(document, userId) }
  async claimOwnership (document: string, userId: string): Promise<boolean> { return await this.inner.claimOwnership(document, userId) }

  async load (name: string): Promise<StoredDocument | null> {
    this.loads++
    if (this.loadDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.loadDelayMs))
    return await this.inner.load(name)
  }

  async append (entries: readonly AppendEntry[]): Promise<void> {
    this.appendCalls.push([...entries])
    if (this.gate !== null) await this.gate
    if (this.failAppends !== null) throw this.failAppends
    await this.inner.append(entries)
  }

  async compact (name: string): Promise<CompactionResult> {
    this.compactions++
    return await this.inner.compact(name)
  }

  async delete (name: string): Promise<boolean> { return await this.inner.delete(name) }
  async list (options?: ListOptions): Promise<DocumentSummary[]> { return await this.inner.list(options) }
  async health (): Promise<StoreHealth> { return await this.inner.health() }
  async close (): Promise<void> { await this.inner.close() }
}
