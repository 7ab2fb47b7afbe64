/**
 * What a room needs from the other instances serving the same documents (scaling/ implements it
 * over Redis; without REDIS_URL there is none), and what it keeps about them.
 *
 * Each instance appends the updates its own clients send and publishes them once. An instance
 * that receives a peer's update applies it and relays it to its clients, but does not write it:
 * it keeps it as "unconfirmed" until the peer says it is durable (`committed`). If the peer dies
 * first (no heartbeat within the timeout), or the room unloads, or a client asks for an
 * acknowledgement while such updates are held, the room writes them itself. Yjs updates are
 * idempotent, so an update written twice costs a duplicate log row until compaction, never a
 * wrong document.
 */
/** What the cluster needs of a room (Room implements it). */
export interface ClusterRoom {
  readonly name: string
  /** One load of the room in this process (its sequence numbers restart with each). */
  readonly epoch: number
  stateVector (): Uint8Array
  /** Awareness states of this instance's own members; null when none. */
  localAwareness (): Uint8Array | null
}

export interface Cluster {
  /** Starts receiving the document's messages (before it is loaded from the store). */
  open (name: string): Promise<void>
  /** The room is loaded: ask the other instances for what the store may not have yet. */
  attach (room: ClusterRoom): void
  /** The room is gone from this instance. */
  close (name: string): void
  /** A local client's update, appended at `seq` of this room. */
  publishUpdate (room: ClusterRoom, seq: number, update: Uint8Array): void
  /** This room's updates up to `seq` are durable. */
  publishCommitted (room: ClusterRoom, seq: number): void
  /** A local client's awareness change (or the removal of a local client's states). */
  publishAwareness (room: ClusterRoom, update: Uint8Array): void
}

/**
 * Another instance as seen by one room: the origin of relayed updates and the owner of its
 * clients' awareness states (so they go when it goes).
 */
export class Peer {
  constructor (readonly instanceId: string) {}
}

interface HeldUpdate {
  readonly epoch: number
  readonly seq: number
  readonly update: Uint8Array
}

/** Peers' updates applied here but not yet confirmed durable, per peer, in arrival order. */
export class UnconfirmedUpdates {
  private readonly byPeer = new Map<string, HeldUpdate[]>()
  private heldBytes = 0

  get size (): number {
    return this.byPeer.size
  }

  get bytes (): number {
    return this.heldBytes
  }

  hold (instanceId: string, epoch: number, seq: number, update: Uint8Array): void {
    let held = this.byPeer.get(instanceId)
    if (held === undefined) this.byPeer.set(instanceId, held = [])
    held.push({ epoch, seq, update })
    this.heldBytes += update.length
  }

  /**
   * The peer's room `epoch` is durable up to `seq`. A peer's epochs only grow (a room it
   * reloads gets a new one, and it confirms everything before unloading), so older epochs go too.
   */
  confirm (instanceId: string, epoch: number, seq: number): void {
    const held = this.byPeer.get(instanceId)
    if (held === undefined) return
    let n = 0
    while (n < held.length && (held[n]!.epoch < epoch || (held[n]!.epoch === epoch && held[n]!.seq <= seq))) {
      this.heldBytes -= held[n]!.update.length
      n++
    }
    if (n === held.length) this.byPeer.delete(instanceId)
    else if (n > 0) held.splice(0, n)
  }

  /** Removes and returns what `instanceId` sent (every peer's when null), to be written here. */
  take (instanceId: string | null): Uint8Array[] {
    const out: Uint8Array[] = []
    for (const [id, held] of this.byPeer) {
      if (instanceId !== null && id !== instanceId) continue
      for (const h of held) {
        out.push(h.update)
        this.heldBytes -= h.update.length
      }
      this.byPeer.delete(id)
    }
    return out
  }
}
