/**
 * A room's Y.Doc behind the one door every update goes through.
 *
 * Yjs cannot roll back, and it integrates an update's structs before it reads the delete set,
 * so an update cut inside its delete set changes the document and then throws. Every apply here
 * runs inside a `try`, and a failed one is sorted into two cases:
 * - it changed nothing: the document is as it was, only the sender is at fault (the caller closes
 *   its connection with the InvalidUpdateError);
 * - it got half-way: the document can no longer be vouched for, and `onHalfApplied` runs before
 *   the error is thrown (the room drops itself without writing, and reloads from the store,
 *   which never saw the bad update).
 *
 * It also keeps the whole document encoded as one update for clients that have nothing (an
 * empty state vector): after a restart every client reconnects at once, and encoding a
 * 20,000-edit document took 20-30 ms in a fresh process. Any change drops it.
 */
import * as Y from 'yjs'
import { InvalidUpdateError, ProtocolError } from '../errors.js'

type PendingStructs = Y.Doc['store']['pendingStructs']
type PendingDs = Y.Doc['store']['pendingDs']

export class GuardedDoc {
  private lastTransaction: Y.Transaction | null = null
  private fullState: Uint8Array | null
  // What the store held as pending before the current apply (fields, not an object per apply).
  private pendingStructs: PendingStructs = null
  private pendingUpdate: Uint8Array | undefined = undefined
  private pendingDs: PendingDs = null

  /**
   * @param snapshot the stored bytes the doc was built from when they are its whole state (a
   *   document loaded from a snapshot alone), served as is to clients that have nothing.
   * @param onHalfApplied called when a failed apply changed the document, before the error is thrown.
   */
  constructor (
    readonly name: string,
    readonly doc: Y.Doc,
    snapshot: Uint8Array | null,
    private readonly onHalfApplied: (err: InvalidUpdateError, origin: unknown) => void,
  ) {
    this.fullState = snapshot
    doc.on('afterTransaction', (tr: Y.Transaction) => { this.lastTransaction = tr })
  }

  /**
   * Applies an update (the client's hot path: nothing is compared afterwards).
   * @throws {InvalidUpdateError} when Yjs cannot apply it.
   */
  apply (update: Uint8Array, origin: unknown): void {
    this.remember()
    this.fullState = null
    this.integrate(update, origin)
  }

  /**
   * Applies an update that may hold nothing new (a sync reply, a re-read of the store, a client's
   * step 2 after a re-sync).
   * @returns whether it changed the document (integrated anything, or parked anything new as pending).
   * @throws {InvalidUpdateError} when Yjs cannot apply it.
   */
  applyIfNew (update: Uint8Array, origin: unknown): boolean {
    this.remember()
    const fullState = this.fullState
    this.fullState = null
    this.integrate(update, origin)
    if (this.changed()) return true
    this.fullState = fullState
    return false
  }

  /** The doc's state vector, for a sync step 1. */
  stateVector (): Uint8Array {
    return Y.encodeStateVector(this.doc)
  }

  /**
   * What a client with `stateVector` is missing, for a sync step 2.
   * @throws {ProtocolError} when the state vector is malformed.
   */
  diff (stateVector: Uint8Array): Uint8Array {
    if (stateVector.length === 1 && stateVector[0] === 0) {
      this.fullState ??= Y.encodeStateAsUpdate(this.doc)
      return this.fullState
    }
    try {
      return Y.encodeStateAsUpdate(this.doc, stateVector)
    } catch (cause) {
      throw new ProtocolError('malformed state vector', { cause })
    }
  }

  /**
   * Whether `update` holds nothing the document does not already have (read-only members).
   * @throws {InvalidUpdateError} when the update cannot be decoded.
   */
  containsUpdate (update: Uint8Array): boolean {
    try {
      return Y.snapshotContainsUpdate(Y.snapshot(this.doc), update)
    } catch (cause) {
      throw new InvalidUpdateError(this.name, cause)
    }
  }

  destroy (): void {
    this.doc.destroy()
  }

  /**
   * What a failed apply may change: integrated structs (the transaction), or structs and
   * deletions parked for missing dependencies. Yjs merges new pending structs into the existing
   * object by replacing its `update`, so that is remembered too.
   */
  private remember (): void {
    const store = this.doc.store
    this.pendingStructs = store.pendingStructs
    this.pendingUpdate = store.pendingStructs?.update
    this.pendingDs = store.pendingDs
    this.lastTransaction = null
  }

  private integrate (update: Uint8Array, origin: unknown): void {
    try {
      Y.applyUpdate(this.doc, update, origin)
    } catch (cause) {
      const err = new InvalidUpdateError(this.name, cause)
      if (this.changed()) this.onHalfApplied(err, origin)
      throw err
    }
  }

  /** Whether the last apply integrated anything, or parked anything new as pending. */
  private changed (): boolean {
    const store = this.doc.store
    return transactionChanged(this.lastTransaction) ||
      store.pendingStructs !== this.pendingStructs || store.pendingStructs?.update !== this.pendingUpdate ||
      store.pendingDs !== this.pendingDs
  }
}

/** Did a (possibly failed) transaction integrate anything? */
function transactionChanged (tr: Y.Transaction | null): boolean {
  if (tr === null) return false
  if (tr.deleteSet.clients.size > 0) return true
  if (tr.afterState.size !== tr.beforeState.size) return true
  for (const [client, clock] of tr.afterState) if (tr.beforeState.get(client) !== clock) return true
  return false
}
