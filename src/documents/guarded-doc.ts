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
    const store = this.doc.store
    this.fullState = null
    this.integrate(update, origin, store.pendingStructs, store.pendingStructs?.update, store.pendingDs)
  }

  /**
   * Applies an update that may hold nothing new (a sync reply, a re-read of the store, a client's
   * step 2 after a re-sync).
   * @returns whether it changed the document (integrated anything, or parked anything new as pending).
   * @throws {InvalidUpdateError} when Yjs cannot apply it.
   */
  applyIfNew (update: Uint8Array, origin: unknown): boolean {
    const store = this.doc.store
    const pendingStructs = store.pendingStructs
    const pendingUpdate = pendingStructs?.update
    const pendingDs = store.pendingDs
    const fullState = this.fullState
    this.fullState = null
    this.integrate(update, origin, pendingStructs, pendingUpdate, pendingDs)
    if (this.changedSince(pendingStructs, pendingUpdate, pendingDs)) return true
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
   * Applies inside a try. The pending state from before (passed in, not kept: a nested apply
   * from an observer must not overwrite it, and a resolved pending buffer must not stay alive)
   * tells whether a failed apply changed anything.
   */
  private integrate (update: Uint8Array, origin: unknown, pendingStructs: PendingStructs, pendingUpdate: Uint8Array | undefined, pendingDs: PendingDs): void {
    this.lastTransaction = null
    try {
      Y.applyUpdate(this.doc, update, origin)
    } catch (cause) {
      const err = new InvalidUpdateError(this.name, cause)
      if (this.changedSince(pendingStructs, pendingUpdate, pendingDs)) this.onHalfApplied(err, origin)
      throw err
    }
  }

  /**
   * Whether the last apply integrated anything (its transaction), or parked structs or deletions
   * for missing dependencies. Yjs merges new pending structs into the existing object by
   * replacing its `update`, so that is compared too.
   */
  private changedSince (pendingStructs: PendingStructs, pendingUpdate: Uint8Array | undefined, pendingDs: PendingDs): boolean {
    const store = this.doc.store
    return transactionChanged(this.lastTransaction) ||
      store.pendingStructs !== pendingStructs || store.pendingStructs?.update !== pendingUpdate ||
      store.pendingDs !== pendingDs
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
