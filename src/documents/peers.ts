/**
 * One room's side of the other instances serving the same document (REDIS_URL): what they send
 * is applied here (`RoomPeers`, on the room's parts), each as a `Peer` (the origin of the
 * updates it relays here and the owner of its clients' awareness states, so they go when it
 * goes), and the updates it sent that it has not yet confirmed durable are held.
 *
 * When held updates are written from here (the peer dies first, the room unloads, a client asks
 * for an acknowledgement while they are held) is ARCHITECTURE.md's "Many instances". Yjs updates
 * are idempotent, so an update written twice costs a duplicate log row until compaction, never
 * a wrong document.
 */
import { decodeAwarenessUpdate, type AwarenessEntry } from '../protocol/awareness.js'
import { awarenessBody, isEmptyUpdate } from '../protocol/messages.js'

/** Another instance as seen by one room. */
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

  /** Peers with updates held. */
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

  /** Removes and returns what `instanceId` sent (every peer's when it is undefined), to be written here. */
  take (instanceId?: string): Uint8Array[] {
    const out: Uint8Array[] = []
    for (const [id, held] of this.byPeer) {
      if (instanceId !== undefined && id !== instanceId) continue
      for (const h of held) {
        out.push(h.update)
        this.heldBytes -= h.update.length
      }
      this.byPeer.delete(id)
    }
    return out
  }
}

/** The parts of its room that RoomPeers works on (the room's own, passed in). */
export interface RoomParts {
  readonly doc: {
    apply (update: Uint8Array, origin: unknown): void
    applyIfNew (update: Uint8Array, origin: unknown): boolean
  }
  readonly relay: {
    relay (origin: object, update: Uint8Array): void
    relayToEveryone (body: Uint8Array): void
  }
  readonly awareness: {
    applyFromPeer (entries: readonly AwarenessEntry[], owner: Peer): boolean
    removeOwner (owner: Peer): Uint8Array | null
  }
  /** Queues an applied update for the store, written from this instance. */
  append (update: Uint8Array): void
}

/** Origin of updates read back from the store (not a member: every member gets them). */
const FROM_STORE = new Peer('(store)')

/** One room's peers, by instance id: what they send, applied to the room, and what they have not confirmed. */
export class RoomPeers {
  private readonly peers = new Map<string, Peer>()
  readonly unconfirmed = new UnconfirmedUpdates()

  constructor (private readonly room: RoomParts) {}

  /** See ClusterRoom.applyPeerUpdate. */
  applyUpdate (instanceId: string, epoch: number, seq: number, update: Uint8Array): void {
    const peer = this.get(instanceId)
    this.room.doc.apply(update, peer)
    // A copy: `update` is a view into a Redis read buffer, which holding it would keep alive.
    this.unconfirmed.hold(instanceId, epoch, seq, update.slice())
    this.room.relay.relay(peer, update)
  }

  /** See ClusterRoom.applySyncedUpdate. */
  applySynced (instanceId: string, update: Uint8Array): void {
    if (isEmptyUpdate(update)) return
    const peer = this.get(instanceId)
    // A reply holds the whole delete set even when nothing else is missing: no row for that.
    if (!this.room.doc.applyIfNew(update, peer)) return
    this.room.append(update)
    this.room.relay.relay(peer, update)
  }

  /** The stored document, read again: what the room lacks reaches its members; nothing is written. */
  applyStored (parts: readonly Uint8Array[]): void {
    for (const part of parts) {
      if (this.room.doc.applyIfNew(part, FROM_STORE)) this.room.relay.relay(FROM_STORE, part)
    }
  }

  /** See ClusterRoom.applyPeerAwareness. */
  applyAwareness (instanceId: string, update: Uint8Array): void {
    // A peer's removals are forgotten at once: a peer lives long and sees many clients come and go.
    if (this.room.awareness.applyFromPeer(decodeAwarenessUpdate(update), this.get(instanceId))) {
      this.room.relay.relayToEveryone(awarenessBody(update))
    }
  }

  /** See ClusterRoom.peerGone. */
  gone (instanceId: string): void {
    this.writeUnconfirmed(instanceId)
    const peer = this.peers.get(instanceId)
    if (peer === undefined) return
    this.peers.delete(instanceId)
    const removal = this.room.awareness.removeOwner(peer)
    if (removal !== null) this.room.relay.relayToEveryone(awarenessBody(removal))
  }

  /** Writes the unconfirmed updates of `instanceId` (of every peer when undefined) from here. */
  writeUnconfirmed (instanceId?: string): void {
    if (this.unconfirmed.size === 0) return
    for (const update of this.unconfirmed.take(instanceId)) this.room.append(update)
  }

  private get (instanceId: string): Peer {
    let peer = this.peers.get(instanceId)
    if (peer === undefined) this.peers.set(instanceId, peer = new Peer(instanceId))
    return peer
  }
}
