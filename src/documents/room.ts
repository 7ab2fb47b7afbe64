/**
 * A document in memory: its Y.Doc, its members (connections of either protocol, the room does
 * not care which), their awareness states, and the bookkeeping that acknowledges an update only
 * once it is durable.
 *
 * The path of one update, all synchronous: `applyUpdate` applies it to the Y.Doc inside a try,
 * queues the bytes for the store (durability.ts), records that the sender is owed an
 * acknowledgement at this update's sequence number, and puts it in the room's outbox. When the
 * store reports the sequence committed, the acknowledgements go out.
 *
 * The outbox (outbox.ts; awareness changes go through it too, to keep their order with the
 * edits) is relayed once per turn of the event loop, or sooner when it grows past a bound: what
 * arrived in one socket read goes to each other member as one write, merged into one update when
 * many members share it. Relaying each update on its own cost a syscall per update per member,
 * which is most of a server's CPU when one writer bursts to many readers. The latency this adds
 * is the rest of the current turn, not a timer (unless BROADCAST_WINDOW_MS asks for one).
 */
import * as Y from 'yjs'
import { InvalidUpdateError, CloseCode, type CloseCodeValue, ProtocolError, StoreUnavailableError } from '../errors.js'
import { decodeAwarenessUpdate } from '../protocol/awareness.js'
import { awarenessBody } from '../protocol/messages.js'
import { AwarenessStates } from './awareness-states.js'
import { Broadcast } from './broadcast.js'
import { Peer, UnconfirmedUpdates, type Cluster, type ClusterRoom } from './cluster.js'
import type { Durability, DurableTarget } from './durability.js'
import { Outbox } from './outbox.js'

export { Broadcast }

/** What a room needs from a connection (or a Hocuspocus session) that joined it. */
export interface RoomMember {
  /** For logs: `c12` or `c12:doc-name` for one document of a multiplexed socket. */
  readonly id: string
  readonly userId: string | null
  /** Sends one message body (protocol/messages.ts) to this member only. */
  sendMessage (body: Uint8Array): void
  /** Sends a broadcast's bodies in order, sharing their wire bytes with the other members. */
  sendBroadcast (broadcast: Broadcast): void
  /** `count` more updates this member sent are now durable. */
  acknowledge (count: number): void
  /** A server-to-client stateless message; members whose protocol has none ignore it. */
  sendStateless (payload: string): void
  /** The room is going away under this member: end its session with this code and reason. */
  evict (code: CloseCodeValue, reason: string): void
}

export interface RoomOptions {
  /** Most awareness client ids one member may hold. */
  readonly maxAwarenessClientsPerMember: number
  /**
   * 0 relays the outbox at the end of every turn of the event loop. Above 0, a room that relayed
   * less than this many milliseconds ago waits until then: a busy room sends fewer, larger
   * messages (each send is a syscall per member), and each update waits at most this long.
   */
  readonly broadcastWindowMs: number
}

/** What the room reports to its owner (the registry). */
export interface RoomHost {
  readonly durability: Durability
  /** The other instances (REDIS_URL), or null when this one is alone. */
  readonly cluster: Cluster | null
  /** The last member left. */
  roomEmptied (room: Room): void
  /** Some of the room's updates became durable. */
  roomCommitted (room: Room): void
  /** An update left the in-memory doc in a state we cannot vouch for; drop the room. */
  roomFailed (room: Room, err: Error): void
}

/** A Yjs update with no structs and no deletions (the V1 encoding of "nothing"). */
export const isEmptyUpdate = (u: Uint8Array): boolean => u.length === 2 && u[0] === 0 && u[1] === 0

/**
 * Bounds on one room's outbox: past either, it is relayed at once instead of at the end of the
 * turn, so no batch grows without limit (merging is linear only for modest batches: 20,000
 * updates merged at once took 9 s).
 */
const OUTBOX_MAX_UPDATES = 256
const OUTBOX_MAX_BYTES = 1024 * 1024
/** Awareness clients all of one peer instance's members may hold in one document. */
const MAX_AWARENESS_CLIENTS_PER_PEER = 100_000
/** Origin of updates read back from the store (not a member: every member gets them). */
const FROM_STORE = new Peer('(store)')
/**
 * Identifies one load of a room in this process, so that the other instances can tell its
 * sequence numbers from those of an earlier load of the same document (cluster.ts).
 */
let lastEpoch = 0
/** Rooms whose outbox goes out at the end of this turn, in one setImmediate for all. */
let roomsToFlush: Room[] = []
let flushScheduled = false
function flushRooms (): void {
  flushScheduled = false
  const rooms = roomsToFlush
  roomsToFlush = []
  for (const room of rooms) room.endOfTurn()
}

export class Room implements DurableTarget, ClusterRoom {
  readonly members = new Set<RoomMember>()
  readonly awareness: AwarenessStates<RoomMember | Peer>
  readonly epoch = ++lastEpoch
  /** Other instances with clients in this document, as origins and awareness owners. */
  private readonly peers = new Map<string, Peer>()
  /** Their updates not yet confirmed durable (written here if they never are). */
  private readonly unconfirmed = new UnconfirmedUpdates()
  /** Highest sequence number published to the other instances, and highest confirmed to them. */
  private publishedSeq = 0
  private confirmedSeq = 0
  /** Sequence number of the last update queued for the store, and of the last durable one. */
  private appendedSeq = 0
  private committedSeq = 0
  /** Acknowledgements owed, in sequence order: member i is owed one once ackSeqs[i] is durable. */
  private ackMembers: RoomMember[] = []
  private ackSeqs: number[] = []
  private ackHead = 0
  private durableWaiters: Array<{ seq: number, resolve: () => void }> = []
  /** Log rows since the last snapshot (queued or stored); the registry compacts past a threshold. */
  logUpdates: number
  logBytes: number
  private lastTransaction: Y.Transaction | null = null
  /**
   * The whole document as one update, for clients that have nothing (an empty state vector):
   * after a restart every client reconnects at once, and encoding a 20,000-edit document took
   * 20-30 ms in a fresh process. Dropped on every change.
   */
  private fullState: Uint8Array | null = null
  /** Updates and awareness changes not yet relayed. */
  private readonly outbox = new Outbox<RoomMember>()
  private readonly cluster: Cluster | null
  /** In `roomsToFlush`. */
  private queuedForTurn = false
  /** performance.now() of the last relay, and the timer of the next one inside the window. */
  private lastFlushAt = Number.NEGATIVE_INFINITY
  private flushTimer: NodeJS.Timeout | null = null
  private readonly broadcastWindowMs: number
  failed = false

  constructor (
    readonly name: string,
    readonly doc: Y.Doc,
    private readonly host: RoomHost,
    stored: { updates: number, bytes: number, snapshot?: Uint8Array | null },
    options: RoomOptions,
  ) {
    this.awareness = new AwarenessStates<RoomMember | Peer>(options.maxAwarenessClientsPerMember)
    this.cluster = host.cluster
    this.broadcastWindowMs = options.broadcastWindowMs
    this.logUpdates = stored.updates
    this.logBytes = stored.bytes
    // A document loaded from a snapshot alone is exactly that snapshot: a new client can have
    // the stored bytes instead of a fresh encoding.
    this.fullState = stored.updates === 0 ? stored.snapshot ?? null : null
    doc.on('afterTransaction', (tr: Y.Transaction) => { this.lastTransaction = tr })
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
      this.relayToEveryone(awarenessBody(removal))
      this.cluster?.publishAwareness(this, removal)
    }
    if (this.members.size === 0) this.host.roomEmptied(this)
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
   * Applies a client's update (sync step 2 or update), relays it to the other members, queues it
   * for the store, and acknowledges it to `member` once durable.
   * @throws {InvalidUpdateError} when Yjs cannot apply it. If the failed apply changed nothing,
   *   the document is untouched and only the sender's connection ends. If it got half-way, the
   *   room is dropped (host.roomFailed) without writing anything, and reloads from the store.
   */
  applyUpdate (member: RoomMember, update: Uint8Array): void {
    if (isEmptyUpdate(update)) {
      this.acknowledgeWhenDurable(member)
      return
    }
    if (this.host.durability.overloaded) {
      // Refused before it touches the document: the client keeps the edit and resends it.
      throw new StoreUnavailableError('too many updates waiting for the store; refusing new ones until it catches up')
    }
    if (this.unconfirmed.size > 0) {
      // A client re-syncing here after its instance died sends a step 2 with nothing new (the
      // delete set only) for edits this room holds from that instance: make sure those are
      // written before acknowledging it.
      if (!this.integrate(update, member, true)) {
        this.acknowledgeWhenDurable(member)
        return
      }
    } else {
      this.integrate(update, member)
    }
    const seq = this.append(update, member.userId)
    this.ackMembers.push(member)
    this.ackSeqs.push(seq)
    this.relay(member, update)
    if (this.cluster !== null) {
      this.publishedSeq = seq
      this.cluster.publishUpdate(this, seq, update)
    }
  }

  /**
   * Applies an update to the doc inside a try.
   * @returns whether it changed anything (computed only when `reportChange`; true otherwise).
   * @throws {InvalidUpdateError} when Yjs cannot apply it; if the failed apply got half-way, the
   *   room has failed (see applyUpdate) and every member but `origin` was evicted.
   */
  private integrate (update: Uint8Array, origin: RoomMember | Peer, reportChange = false): boolean {
    // What a failed apply may have changed: integrated structs (the transaction), or structs and
    // deletions parked for missing dependencies. Yjs merges new pending structs into the existing
    // object by replacing its `update`, so that is compared too.
    const store = this.doc.store
    const pendingStructs = store.pendingStructs
    const pendingUpdate = pendingStructs?.update
    const pendingDs = store.pendingDs
    this.lastTransaction = null
    const fullState = this.fullState
    this.fullState = null
    try {
      Y.applyUpdate(this.doc, update, origin)
    } catch (cause) {
      const err = new InvalidUpdateError(this.name, cause)
      if (this.changedSince(pendingStructs, pendingUpdate, pendingDs)) this.fail(err, origin instanceof Peer ? null : origin)
      throw err
    }
    if (!reportChange) return true
    if (this.changedSince(pendingStructs, pendingUpdate, pendingDs)) return true
    this.fullState = fullState
    return false
  }

  /** Whether the last apply integrated anything, or parked anything new as pending. */
  private changedSince (pendingStructs: Y.Doc['store']['pendingStructs'], pendingUpdate: Uint8Array | undefined, pendingDs: Y.Doc['store']['pendingDs']): boolean {
    const store = this.doc.store
    return transactionChanged(this.lastTransaction) ||
      store.pendingStructs !== pendingStructs || store.pendingStructs?.update !== pendingUpdate ||
      store.pendingDs !== pendingDs
  }

  /** Queues an applied update for the store. @returns its sequence number. */
  private append (update: Uint8Array, userId: string | null): number {
    const seq = ++this.appendedSeq
    this.logUpdates++
    this.logBytes += update.length
    this.host.durability.append(this, seq, this.name, update, userId)
    return seq
  }

  /**
   * An update another instance accepted (and is writing): applied and relayed to every member,
   * and held until that instance confirms it durable.
   * @throws {InvalidUpdateError} when Yjs cannot apply it (the room fails if it got half-way).
   */
  applyPeerUpdate (instanceId: string, epoch: number, seq: number, update: Uint8Array): void {
    const peer = this.peer(instanceId)
    this.integrate(update, peer)
    // A copy: `update` is a view into a Redis read buffer, which holding it would keep alive.
    this.unconfirmed.hold(instanceId, epoch, seq, update.slice())
    this.relay(peer, update)
  }

  /**
   * What another instance had that this one did not, in answer to a sync request (after a load
   * or a Redis reconnect). Nothing says it is durable yet, so this instance writes it too.
   * @throws {InvalidUpdateError} when Yjs cannot apply it.
   */
  applySyncedUpdate (instanceId: string, update: Uint8Array): void {
    if (isEmptyUpdate(update)) return
    const peer = this.peer(instanceId)
    // A reply holds the whole delete set even when nothing else is missing: no row for that.
    if (!this.integrate(update, peer, true)) return
    this.append(update, null)
    this.relay(peer, update)
  }

  /**
   * The stored document, read again after a Redis outage: what other instances wrote meanwhile
   * (and whose senders have since unloaded the document) reaches this room's members. Already
   * stored, so nothing is written.
   * @throws {InvalidUpdateError} when a stored part cannot be applied.
   */
  applyStoredState (parts: readonly Uint8Array[]): void {
    for (const part of parts) {
      if (this.integrate(part, FROM_STORE, true)) this.relay(FROM_STORE, part)
    }
  }

  /** Another instance wrote its updates of room `epoch` up to `seq`. */
  peerCommitted (instanceId: string, epoch: number, seq: number): void {
    this.unconfirmed.confirm(instanceId, epoch, seq)
  }

  /**
   * Another instance's awareness change, relayed to every member; its states are removed when
   * that instance goes (peerGone).
   * @throws {ProtocolError} when malformed.
   */
  applyPeerAwareness (instanceId: string, update: Uint8Array): void {
    const entries = decodeAwarenessUpdate(update)
    // Removals are forgotten at once: a peer lives long and sees many clients come and go.
    if (this.awareness.apply(entries, this.peer(instanceId), MAX_AWARENESS_CLIENTS_PER_PEER, true)) this.relayToEveryone(awarenessBody(update))
  }

  /**
   * Another instance stopped or is unreachable: write what it never confirmed, and remove its
   * clients' awareness states.
   */
  peerGone (instanceId: string): void {
    this.writeUnconfirmed(instanceId)
    const peer = this.peers.get(instanceId)
    if (peer === undefined) return
    this.peers.delete(instanceId)
    const removal = this.awareness.removeOwner(peer)
    if (removal !== null) this.relayToEveryone(awarenessBody(removal))
  }

  /** Writes the peers' unconfirmed updates (all peers' when `instanceId` is null) from here. */
  writeUnconfirmed (instanceId: string | null = null): void {
    if (this.unconfirmed.size === 0) return
    for (const update of this.unconfirmed.take(instanceId)) this.append(update, null)
  }

  /** Awareness states of this instance's own members, for another instance; null when none. */
  localAwareness (): Uint8Array | null {
    return this.awareness.encodeAll((owner) => !(owner instanceof Peer))
  }

  private peer (instanceId: string): Peer {
    let peer = this.peers.get(instanceId)
    if (peer === undefined) this.peers.set(instanceId, peer = new Peer(instanceId))
    return peer
  }

  /** Puts an applied update in the outbox; relayed at the end of the turn or once it is full. */
  private relay (origin: RoomMember | Peer, update: Uint8Array): void {
    if (this.members.size === 0 || (this.members.size === 1 && this.members.has(origin as RoomMember))) return // nobody to tell
    if (this.outbox.isEmpty) this.scheduleFlush()
    this.outbox.addUpdate(origin, update)
    if (this.outbox.updates >= OUTBOX_MAX_UPDATES || this.outbox.bytes >= OUTBOX_MAX_BYTES) this.flushOutbox()
  }

  /** Queues a message body for every member, in order with the updates before it. */
  private relayToEveryone (body: Uint8Array): void {
    if (this.members.size === 0) return
    if (this.outbox.isEmpty) this.scheduleFlush()
    this.outbox.addForEveryone(body)
  }

  private scheduleFlush (): void {
    const wait = this.broadcastWindowMs === 0 ? 0 : this.lastFlushAt + this.broadcastWindowMs - performance.now()
    if (wait > 0) {
      this.flushTimer ??= setTimeout(this.flushOutbox, wait)
      return
    }
    if (this.queuedForTurn) return
    this.queuedForTurn = true
    roomsToFlush.push(this)
    if (!flushScheduled) {
      flushScheduled = true
      setImmediate(flushRooms)
    }
  }

  /** The end of the turn it was queued in (flushRooms). */
  endOfTurn (): void {
    this.queuedForTurn = false
    // Flushed early since, with a window now running: wait for the window.
    if (this.flushTimer === null) this.flushOutbox()
  }

  /**
   * Relays the outbox (outbox.ts): each member gets everything it did not send itself, in one
   * write. A failure here could leave members without updates they will never get, so the room
   * is reset instead: they reconnect and sync afresh.
   */
  readonly flushOutbox = (): void => {
    this.clearFlushTimer()
    if (this.outbox.isEmpty) return
    if (this.broadcastWindowMs > 0) this.lastFlushAt = performance.now()
    if (this.failed) {
      this.outbox.clear()
      return
    }
    try {
      this.outbox.deliver(this.members)
    } catch (err) {
      this.outbox.clear()
      this.fail(err as Error, null)
    }
  }

  /** Whether `update` holds nothing the document does not already have (for read-only members). */
  containsUpdate (update: Uint8Array): boolean {
    try {
      return Y.snapshotContainsUpdate(Y.snapshot(this.doc), update)
    } catch (cause) {
      throw new InvalidUpdateError(this.name, cause)
    }
  }

  /** Acknowledges to `member` once everything queued so far is durable (no new row needed). */
  acknowledgeWhenDurable (member: RoomMember): void {
    // The member may be counting on a peer's update it also has (it synced here after that
    // peer died, say): make sure that is written before saying so.
    this.writeUnconfirmed()
    if (this.committedSeq >= this.appendedSeq) {
      member.acknowledge(1)
      return
    }
    this.ackMembers.push(member)
    this.ackSeqs.push(this.appendedSeq)
  }

  /**
   * Applies a client's awareness update and relays it to every member, the sender included
   * (the stock providers treat their own echoed state as a sign of life).
   * @throws {ProtocolError} when malformed.
   */
  applyAwareness (member: RoomMember, update: Uint8Array): void {
    const entries = decodeAwarenessUpdate(update)
    if (this.awareness.apply(entries, member)) {
      this.relayToEveryone(awarenessBody(update))
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
    if (seq <= this.committedSeq) return
    this.committedSeq = seq
    const members = this.ackMembers
    const seqs = this.ackSeqs
    let head = this.ackHead
    while (head < seqs.length && seqs[head]! <= seq) {
      // Consecutive acknowledgements to one member (a burst) go out as one write.
      const member = members[head]!
      let count = 1
      head++
      while (head < seqs.length && seqs[head]! <= seq && members[head] === member) {
        count++
        head++
      }
      member.acknowledge(count)
    }
    if (head === seqs.length) {
      members.length = 0
      seqs.length = 0
      head = 0
    } else if (head > 1024 && head * 2 > seqs.length) {
      this.ackMembers = members.slice(head)
      this.ackSeqs = seqs.slice(head)
      head = 0
    }
    this.ackHead = head
    if (this.publishedSeq > this.confirmedSeq) {
      this.confirmedSeq = Math.min(seq, this.publishedSeq)
      this.cluster?.publishCommitted(this, this.confirmedSeq)
    }
    if (this.durableWaiters.length > 0) {
      this.durableWaiters = this.durableWaiters.filter((w) => {
        if (w.seq > seq) return true
        w.resolve()
        return false
      })
    }
    this.host.roomCommitted(this)
  }

  /** Says again how far this room's updates are durable (the last COMMITTED may have been lost with Redis). */
  republishCommitted (): void {
    if (this.confirmedSeq > 0) this.cluster?.publishCommitted(this, this.confirmedSeq)
  }

  /** Resolves once every update queued so far, and every peer update held here, is durable. */
  whenDurable (): Promise<void> {
    this.writeUnconfirmed()
    if (this.committedSeq >= this.appendedSeq) return Promise.resolve()
    const seq = this.appendedSeq
    return new Promise((resolve) => this.durableWaiters.push({ seq, resolve }))
  }

  /** Ends every member's session (room failure, document deleted, unload on shutdown). */
  evictAll (code: CloseCodeValue, reason: string): void {
    for (const m of [...this.members]) {
      this.evict(m, code, reason)
    }
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

  destroy (): void {
    this.dropOutbox()
    this.doc.destroy()
  }

  private clearFlushTimer (): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer)
    this.flushTimer = null
  }

  private dropOutbox (): void {
    this.clearFlushTimer()
    this.outbox.clear()
  }

  /** Drops the room: every member but the culprit (whose connection closes with the error) is reset. */
  private fail (err: Error, culprit: RoomMember | null): void {
    if (this.failed) return
    this.failed = true
    this.dropOutbox()
    for (const m of [...this.members]) {
      if (m === culprit) continue
      this.evict(m, CloseCode.resetConnection, 'document reset, reconnect')
    }
    this.host.roomFailed(this, err)
  }
}

/** Did a (failed) transaction integrate anything? */
function transactionChanged (tr: Y.Transaction | null): boolean {
  if (tr === null) return false
  if (tr.deleteSet.clients.size > 0) return true
  if (tr.afterState.size !== tr.beforeState.size) return true
  for (const [client, clock] of tr.afterState) if (tr.beforeState.get(client) !== clock) return true
  return false
}
