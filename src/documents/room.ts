/**
 * A document in memory and its members (connections of either protocol, the room does not care
 * which): the coordinator of the parts that each do one job.
 *
 * - guarded-doc.ts applies every update inside a try and tells a harmless failure from one that
 *   got half-way (then the room fails: it is dropped unwritten and reloads from the store);
 * - acknowledgements.ts owes each sender an acknowledgement at its update's sequence number and
 *   pays it once the durability queue (durability.ts) reports that sequence committed;
 * - relay.ts sends the outbox to the other members once per turn of the event loop;
 * - peers.ts applies what the other instances send and holds what they have not confirmed durable;
 * - awareness-states.ts keeps presence.
 *
 * The path of one client update, all synchronous (ARCHITECTURE.md, "The path of one update"):
 * `applyUpdate` applies it, queues the bytes for the store, records the acknowledgement owed,
 * puts it in the outbox, and publishes it to the other instances.
 */
import type * as Y from 'yjs'
import { CloseCode, LimitError, type CloseCodeValue, type InvalidUpdateError } from '../errors.js'
import { decodeAwarenessUpdate } from '../protocol/awareness.js'
import { awarenessBody, isEmptyUpdate } from '../protocol/messages.js'
import { AckLedger } from './acknowledgements.js'
import { AwarenessStates } from './awareness-states.js'
import type { Cluster, ClusterRoom } from './cluster.js'
import type { Durability, DurableTarget } from './durability.js'
import { GuardedDoc } from './guarded-doc.js'
import { Peer, RoomPeers } from './peers.js'
import { RelayScheduler, type EndOfTurn, type RelayOptions } from './relay.js'
import type { Broadcast, RoomMember } from './room-member.js'

export type { Broadcast, RoomMember }

export interface RoomOptions extends RelayOptions {
  /** Most awareness client ids one member may hold. */
  readonly maxAwarenessClientsPerMember: number
}

/** What the room reports to and needs from its owner (the registry). */
export interface RoomHost {
  readonly durability: Durability
  /** The other instances (REDIS_URL), or null when this one is alone. */
  readonly cluster: Cluster | null
  /** The relays due at the end of this turn, shared by every room. */
  readonly turns: EndOfTurn
  /** The last member left. */
  roomEmptied (room: Room): void
  /** Some of the room's updates became durable. */
  roomCommitted (room: Room): void
  /** An update left the in-memory doc in a state we cannot vouch for; drop the room. */
  roomFailed (room: Room, err: Error): void
}

/** A document as loaded: its Y.Doc and what the store holds for it. */
export interface RoomInit {
  readonly name: string
  readonly doc: Y.Doc
  /** One load of this document in this process (the registry counts them). */
  readonly epoch: number
  /** Log rows since the last snapshot, their bytes, and the snapshot (null: none). */
  readonly stored: { readonly updates: number, readonly bytes: number, readonly snapshot: Uint8Array | null }
}

/** Awareness clients all of one peer instance's members may hold in one document. */
const MAX_AWARENESS_CLIENTS_PER_PEER = 100_000

export class Room implements DurableTarget, ClusterRoom {
  readonly name: string
  readonly epoch: number
  readonly members = new Set<RoomMember>()
  readonly awareness: AwarenessStates<RoomMember | Peer>
  /** Log rows since the last snapshot (queued or stored); the registry compacts past a threshold. */
  logUpdates: number
  logBytes: number
  private readonly guarded: GuardedDoc
  private readonly acks = new AckLedger<RoomMember>()
  private readonly relay: RelayScheduler<RoomMember>
  private readonly peers: RoomPeers
  private readonly cluster: Cluster | null
  /** Highest sequence number published to the other instances, and highest confirmed to them. */
  private publishedSeq = 0
  private confirmedSeq = 0
  private hasFailed = false

  constructor (init: RoomInit, private readonly host: RoomHost, options: RoomOptions) {
    this.name = init.name
    this.epoch = init.epoch
    this.cluster = host.cluster
    this.logUpdates = init.stored.updates
    this.logBytes = init.stored.bytes
    this.awareness = new AwarenessStates<RoomMember | Peer>({ perMember: options.maxAwarenessClientsPerMember, perPeer: MAX_AWARENESS_CLIENTS_PER_PEER })
    // A document loaded from a snapshot alone is exactly that snapshot.
    const snapshot = init.stored.updates === 0 ? init.stored.snapshot : null
    this.guarded = new GuardedDoc(init.name, init.doc, snapshot, (err, origin) => this.fail(err, this.members.has(origin as RoomMember) ? origin as RoomMember : null))
    this.relay = new RelayScheduler(host.turns, this.members, options, (err) => this.fail(err, null))
    this.peers = new RoomPeers({ doc: this.guarded, relay: this.relay, awareness: this.awareness, append: (update) => this.append(update, null) })
  }

  get failed (): boolean {
    return this.hasFailed
  }

  /** The Y.Doc, to read (tests, diagnostics): every change goes through the apply methods. */
  get doc (): Y.Doc {
    return this.guarded.doc
  }

  join (member: RoomMember): void {
    this.members.add(member)
    const states = this.awareness.encodeAll()
    if (states !== null) member.sendMessage(awarenessBody(states))
  }

  leave (member: RoomMember): void {
    if (!this.members.delete(member)) return
    const removal = this.awareness.removeOwner(member)
    if (removal !== null) {
      this.relay.relayToEveryone(awarenessBody(removal))
      this.cluster?.publishAwareness(this, removal)
    }
    if (this.members.size === 0) this.host.roomEmptied(this)
  }

  stateVector (): Uint8Array {
    return this.guarded.stateVector()
  }

  /** What a client with `stateVector` is missing. @throws {ProtocolError} when it is malformed. */
  diff (stateVector: Uint8Array): Uint8Array {
    return this.guarded.diff(stateVector)
  }

  /** Whether `update` holds nothing the document lacks (read-only members). @throws {InvalidUpdateError} */
  containsUpdate (update: Uint8Array): boolean {
    return this.guarded.containsUpdate(update)
  }

  /**
   * Applies a client's update (sync step 2 or update), relays it to the other members, queues it
   * for the store, and acknowledges it to `member` once durable.
   * @throws {LimitError} when too much waits for the store (refused before it touches the doc).
   * @throws {InvalidUpdateError} when Yjs cannot apply it. If the failed apply changed nothing,
   *   the document is untouched and only the sender's connection ends. If it got half-way, the
   *   room fails (host.roomFailed) without writing anything, and reloads from the store.
   */
  applyUpdate (member: RoomMember, update: Uint8Array): void {
    if (isEmptyUpdate(update)) {
      this.acknowledgeWhenDurable(member)
      return
    }
    if (this.host.durability.overloaded) {
      // The client keeps the edit and resends it after reconnecting.
      throw new LimitError('PENDING_WRITES', 'too many updates waiting for the store; refusing new ones until it catches up', { closeCode: CloseCode.tryAgainLater, publicReason: 'storage unavailable, try again later' })
    }
    if (this.peers.unconfirmed.size === 0) {
      this.guarded.apply(update, member)
    } else if (!this.guarded.applyIfNew(update, member)) {
      // A client re-syncing here after its instance died sends a step 2 with nothing new (the
      // delete set only) for edits this room holds from that instance: write those first.
      this.acknowledgeWhenDurable(member)
      return
    }
    const seq = this.append(update, member.userId)
    this.acks.owe(member, seq)
    this.relay.relay(member, update)
    if (this.cluster !== null) {
      this.publishedSeq = seq
      this.cluster.publishUpdate(this, seq, update)
    }
  }

  /** Acknowledges to `member` once everything queued so far is durable (no new row needed). */
  acknowledgeWhenDurable (member: RoomMember): void {
    // The member may count on a peer's update it also has (it synced here after that peer
    // died, say): make sure that is written before saying so.
    this.writeUnconfirmed()
    this.acks.oweWhenDurable(member)
  }

  /**
   * Applies a client's awareness update and relays it to every member, the sender included
   * (the stock providers treat their own echoed state as a sign of life).
   * @throws {ProtocolError} when malformed. @throws {LimitError} past the member's client ids.
   */
  applyAwareness (member: RoomMember, update: Uint8Array): void {
    if (this.awareness.applyFromMember(decodeAwarenessUpdate(update), member)) {
      this.relay.relayToEveryone(awarenessBody(update))
      this.cluster?.publishAwareness(this, update)
    }
  }

  /** Every present awareness state, for a query-awareness answer; null when there is none. */
  awarenessStates (): Uint8Array | null {
    return this.awareness.encodeAll()
  }

  broadcastStateless (payload: string): void {
    for (const m of this.members) m.sendStateless(payload)
  }

  /** Durability callback: updates up to `seq` are in the store. */
  committed (seq: number): void {
    if (!this.acks.commit(seq)) return
    if (this.publishedSeq > this.confirmedSeq) {
      this.confirmedSeq = Math.min(seq, this.publishedSeq)
      this.cluster?.publishCommitted(this, this.confirmedSeq)
    }
    this.host.roomCommitted(this)
  }

  /** Resolves once every update queued so far, and every peer update held here, is durable. */
  whenDurable (): Promise<void> {
    this.writeUnconfirmed()
    return this.acks.whenDurable()
  }

  // What the other instances call (ClusterRoom; peers.ts does the work).

  applyPeerUpdate (instanceId: string, epoch: number, seq: number, update: Uint8Array): void {
    this.peers.applyUpdate(instanceId, epoch, seq, update)
  }

  applySyncedUpdate (instanceId: string, update: Uint8Array): void {
    this.peers.applySynced(instanceId, update)
  }

  /**
   * The stored document, read again (after a Redis outage, or another instance's): what other
   * instances wrote meanwhile reaches this room's members. Already stored, so nothing is written.
   * @throws {InvalidUpdateError} when a stored part cannot be applied.
   */
  applyStoredState (parts: readonly Uint8Array[]): void {
    this.peers.applyStored(parts)
  }

  peerCommitted (instanceId: string, epoch: number, seq: number): void {
    this.peers.unconfirmed.confirm(instanceId, epoch, seq)
  }

  applyPeerAwareness (instanceId: string, update: Uint8Array): void {
    this.peers.applyAwareness(instanceId, update)
  }

  peerGone (instanceId: string): void {
    this.peers.gone(instanceId)
  }

  writeUnconfirmed (instanceId?: string): void {
    this.peers.writeUnconfirmed(instanceId)
  }

  localAwareness (): Uint8Array | null {
    return this.awareness.encodeAll((owner) => !(owner instanceof Peer))
  }

  republishCommitted (): void {
    if (this.confirmedSeq > 0) this.cluster?.publishCommitted(this, this.confirmedSeq)
  }

  // The end of the room.

  /** Ends every member's session (room failure, document deleted, unload on shutdown). */
  evictAll (code: CloseCodeValue, reason: string): void {
    for (const m of [...this.members]) this.evict(m, code, reason)
  }

  destroy (): void {
    this.relay.stop()
    this.guarded.destroy()
  }

  /** Queues an applied update for the store. @returns its sequence number. */
  private append (update: Uint8Array, userId: string | null): number {
    const seq = this.acks.nextSeq()
    this.logUpdates++
    this.logBytes += update.length
    this.host.durability.append(this, seq, this.name, update, userId)
    return seq
  }

  /**
   * Ends one member's session. Its presence goes from the other instances' rooms too (here the
   * room itself is going): a client that does not come back leaves no cursor behind there.
   */
  private evict (member: RoomMember, code: CloseCodeValue, reason: string): void {
    this.members.delete(member)
    const removal = this.awareness.removeOwner(member)
    if (removal !== null) this.cluster?.publishAwareness(this, removal)
    member.evict(code, reason)
  }

  /** Drops the room: every member but the culprit (whose connection closes with the error) is reset. */
  private fail (err: Error | InvalidUpdateError, culprit: RoomMember | null): void {
    if (this.hasFailed) return
    this.hasFailed = true
    this.relay.stop()
    for (const m of [...this.members]) {
      if (m !== culprit) this.evict(m, CloseCode.resetConnection, 'document reset, reconnect')
    }
    this.host.roomFailed(this, err)
  }
}
