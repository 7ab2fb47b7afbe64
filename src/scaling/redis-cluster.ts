/**
 * Many instances serving the same documents, over Redis pub/sub (REDIS_URL): the cluster
 * proper, on top of the connections (redis-link.ts) and instance liveness (liveness.ts). It
 * owns the document channels, the load buffer (what arrives for a document while the store is
 * read, applied once its room is attached), the sync request and reply, and what happens when
 * the link comes back after an outage or another instance leaves, rejoins or times out.
 * ARCHITECTURE.md ("Many instances") gives the rules; the wire format is protocol/PROTOCOL.md,
 * "Between instances". The store is the truth; nothing is kept in Redis.
 */
import { randomBytes } from 'node:crypto'
import type { ClusterHealth, ClusterNode, ClusterRoom, LoadedRooms } from '../documents/cluster.js'
import type { Logger } from '../log.js'
import { isEmptyUpdate } from '../protocol/messages.js'
import { decodeInstanceMessage, InstanceMessageEncoder, InstanceMessageType as Type, NONE, type InstanceMessage } from './instance-messages.js'
import { InstanceLiveness } from './liveness.js'
import { RedisLink } from './redis-link.js'
import { StoreRereads } from './store-rereads.js'

export interface RedisClusterOptions {
  readonly url: string
  /** Prefix of every channel name, so several deployments can share one Redis. */
  readonly prefix: string
  /** An instance not heard from for this long is taken as gone. */
  readonly peerTimeoutMs: number
}

/** Messages kept for a document between subscribing and having it loaded; past this, the sync covers it. */
const MAX_MESSAGES_WHILE_LOADING = 10_000
/** How long start() waits for Redis before serving this instance's clients alone. */
const START_WAIT_MS = 5000

/** A loaded room answers and applies everything; one being unloaded only answers sync requests. */
type RoomPhase = 'loaded' | 'unloading'

export class RedisCluster implements ClusterNode {
  readonly instanceId = randomBytes(9).toString('base64url')
  private readonly link: RedisLink
  private readonly liveness: InstanceLiveness
  private readonly encoder = new InstanceMessageEncoder(this.instanceId)
  private readonly docPrefix: string
  private readonly instancesChannel: string
  /** Channel of every document open here (kept, so not rebuilt per update). */
  private readonly channels = new Map<string, string>()
  /** Documents subscribed to but not loaded yet, with the messages that arrived for them meanwhile. */
  private readonly loading = new Map<string, InstanceMessage[]>()
  private rooms: LoadedRooms | null = null
  private rereads: StoreRereads | null = null
  private heartbeatTimer: NodeJS.Timeout | null = null
  private badMessages = 0

  constructor (private readonly options: RedisClusterOptions, private readonly log: Logger) {
    this.docPrefix = `${options.prefix}doc:`
    this.instancesChannel = `${options.prefix}instances`
    this.liveness = new InstanceLiveness(options.peerTimeoutMs)
    this.link = new RedisLink(
      { url: options.url, name: this.instanceId, baseChannels: [this.instancesChannel, this.instanceChannel(this.instanceId)], silentAfterMs: options.peerTimeoutMs },
      { onUp: (info) => this.rejoin(info), onMessage: (channel, message) => this.receive(channel, message) },
      log,
    )
  }

  async start (rooms: LoadedRooms): Promise<void> {
    this.rooms = rooms
    this.rereads = new StoreRereads(rooms, this.log)
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.liveness.intervalMs)
    this.heartbeatTimer.unref()
    if (!await this.link.connect(START_WAIT_MS)) this.log.warn({ instance: this.instanceId }, 'Redis is not reachable; serving this instance\'s clients only until it is')
  }

  get connected (): boolean {
    return this.link.connected
  }

  async health (): Promise<ClusterHealth> {
    return await this.link.health()
  }

  async open (name: string): Promise<void> {
    const channel = this.docPrefix + name
    this.channels.set(name, channel)
    this.loading.set(name, [])
    await this.link.subscribe(channel)
  }

  attach (room: ClusterRoom): void {
    // What arrived while the store was read: usually also in the answers to the sync request,
    // but not if its sender unloads the document before answering.
    const early = this.loading.get(room.name)
    this.loading.delete(room.name)
    this.rereads?.loaded(room.name)
    if (early !== undefined && early.length > 0) {
      for (const message of early) this.handleSafely(room, message, 'loaded')
      // A sender that went while the store was read: its departure passed this room by.
      for (const from of new Set(early.map((m) => m.from))) if (!this.liveness.knows(from)) room.peerGone(from)
    }
    this.requestSync(room)
  }

  close (name: string): void {
    this.loading.delete(name)
    this.rereads?.forget(name)
    const channel = this.channels.get(name)
    if (channel === undefined) return
    this.channels.delete(name)
    this.link.unsubscribe(channel)
  }

  publishUpdate (room: ClusterRoom, seq: number, update: Uint8Array): void {
    this.link.publish(this.channel(room.name), this.encoder.encode(Type.update, room.epoch, seq, update))
  }

  publishCommitted (room: ClusterRoom, seq: number): void {
    this.link.publish(this.channel(room.name), this.encoder.encode(Type.committed, room.epoch, seq))
  }

  publishAwareness (room: ClusterRoom, update: Uint8Array): void {
    this.link.publish(this.channel(room.name), this.encoder.encode(Type.awareness, update))
  }

  publishStateless (name: string, payload: string): void {
    this.link.publish(this.channel(name), this.encoder.encode(Type.stateless, payload))
  }

  /** Says goodbye (the others drop this instance's presence at once) and disconnects. */
  async shutdown (): Promise<void> {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer)
    this.heartbeatTimer = null
    this.rereads?.stop()
    await this.link.close({ channel: this.instancesChannel, message: this.encoder.encode(Type.bye) })
  }

  /** The document's channel name. */
  private channel (name: string): string {
    return this.channels.get(name) ?? this.docPrefix + name
  }

  /** An instance's own channel, for answers meant for it alone. */
  private instanceChannel (id: string): string {
    return `${this.options.prefix}instance:${id}`
  }

  private requestSync (room: ClusterRoom): void {
    this.link.publish(this.channel(room.name), this.encoder.encode(Type.syncRequest, room.stateVector(), room.localAwareness() ?? NONE))
  }

  private heartbeat (): void {
    this.link.publish(this.instancesChannel, this.encoder.encode(Type.heartbeat))
    const now = Date.now()
    const gone = this.liveness.tick(now)
    if (gone === null) return // late: this event loop was blocked, judge nobody
    for (const id of gone) this.peerGone(id, 'timed out')
    this.link.checkSilent(now)
  }

  /**
   * Another instance is gone. One that timed out (rather than saying goodbye) may have been cut
   * off from Redis while it wrote edits nobody heard of: the loaded documents are read again.
   */
  private peerGone (id: string, how: 'said goodbye' | 'timed out'): void {
    this.log.info({ peer: id, why: how === 'timed out' ? 'not heard from within REDIS_PEER_TIMEOUT_MS' : how }, 'instance gone; writing its unconfirmed updates and removing its clients\' presence')
    this.forEachRoom((room) => room.peerGone(id))
    if (how === 'timed out') this.rereadAll('another instance timed out')
  }

  /** Another instance was cut off from Redis and is back: what it wrote meanwhile is only in the store. */
  private peerRejoined (id: string): void {
    this.log.info({ peer: id }, 'instance back after losing Redis; reading loaded documents from the store again')
    // Its confirmations of the outage are lost: write what it may never confirm (a duplicate
    // row at worst), so nothing stays held here.
    this.forEachRoom((room) => room.writeUnconfirmed(id))
    this.rereadAll('another instance rejoined')
  }

  private rereadAll (why: string): void {
    this.rereads?.request(why, this.loading.keys())
  }

  /** Runs `fn` for every loaded room; one room's failure does not keep the others from theirs. */
  private forEachRoom (fn: (room: ClusterRoom) => void): void {
    const rooms = this.rooms
    if (rooms === null) return
    for (const name of rooms.names()) {
      const room = rooms.get(name)
      if (room === undefined) continue
      try {
        fn(room)
      } catch (err) {
        this.log.error({ err, document: name }, 'handling another instance\'s change failed for one document')
      }
    }
  }

  /**
   * Both connections are up and subscribed: announce this instance and sync every loaded
   * document with the others. After an outage, recover what was published meanwhile and lost.
   */
  private rejoin ({ afterOutage }: { readonly afterOutage: boolean }): void {
    this.heartbeat()
    this.forEachRoom((room) => this.requestSync(room))
    if (!afterOutage) return
    // The others' edits of the outage may be only in the store (they may have let the document
    // go since), and ours only in the store for them: say so, and read ours again.
    this.link.publish(this.instancesChannel, this.encoder.encode(Type.rejoined))
    // Documents being unloaded may still be writing edits of the outage: once they are in the
    // store, say it again, so the others' re-read finds them.
    void this.rooms?.unloadsSettled()?.then(() => {
      if (this.link.synced) this.link.publish(this.instancesChannel, this.encoder.encode(Type.rejoined))
    })
    // Confirmations published during the outage are lost both ways: ours again, theirs written.
    this.forEachRoom((room) => {
      room.republishCommitted()
      room.writeUnconfirmed()
    })
    this.rereadAll('Redis connection back')
  }

  private receive (channelBytes: Buffer, bytes: Buffer): void {
    let message: InstanceMessage
    try {
      message = decodeInstanceMessage(bytes)
    } catch (err) {
      // Redis is trusted but shared: something else may publish on our channels.
      if (this.badMessages++ % 1000 === 0) this.log.warn({ err, count: this.badMessages }, 'ignored a malformed message from Redis')
      return
    }
    const channel = channelBytes.toString('utf8')
    if (message.from === this.instanceId) {
      // Our own publication; our heartbeat coming back proves the subscription works.
      if (message.type === Type.heartbeat) this.link.heardOwnVoice()
      return
    }
    if (channel === this.instancesChannel) {
      if (message.type === Type.bye) {
        if (this.liveness.bye(message.from)) this.peerGone(message.from, 'said goodbye')
        return
      }
      this.liveness.heartbeat(message.from, Date.now())
      if (message.type === Type.rejoined) this.peerRejoined(message.from)
      return
    }
    // No clock read per update: only an instance not known yet is noted, with the time.
    if (!this.liveness.knows(message.from)) this.liveness.seen(message.from, Date.now())
    const rooms = this.rooms
    if (rooms === null) return
    const name = message.type === Type.syncReply ? message.document : channel.startsWith(this.docPrefix) ? channel.slice(this.docPrefix.length) : null
    if (name === null) return
    const room = rooms.get(name)
    if (room !== undefined) {
      this.handleSafely(room, message, 'loaded')
      return
    }
    // Being unloaded: its last updates may not be in the store yet, so it still answers.
    const unloading = message.type === Type.syncRequest ? rooms.unloadingRoom(name) : undefined
    if (unloading !== undefined) {
      this.handleSafely(unloading, message, 'unloading')
      return
    }
    // Being loaded: keep it for attach(). Otherwise not loaded here (any more): nothing to do.
    const early = this.loading.get(name)
    if (early !== undefined && early.length < MAX_MESSAGES_WHILE_LOADING) early.push(message)
  }

  private handleSafely (room: ClusterRoom, message: InstanceMessage, phase: RoomPhase): void {
    if (room.failed) return
    try {
      this.handle(room, message, phase)
    } catch (err) {
      this.log.warn({ err, document: room.name, peer: message.from, type: message.type }, 'could not apply a message from another instance')
    }
  }

  private handle (room: ClusterRoom, message: InstanceMessage, phase: RoomPhase): void {
    switch (message.type) {
      case Type.update:
        room.applyPeerUpdate(message.from, message.epoch, message.seq, message.update)
        break
      case Type.committed:
        room.peerCommitted(message.from, message.epoch, message.seq)
        break
      case Type.awareness:
        room.applyPeerAwareness(message.from, message.update)
        break
      case Type.stateless:
        room.broadcastStateless(message.payload)
        break
      // The document first, presence last: bad presence must not cost the sync.
      case Type.syncRequest: {
        // Our state vector lets the asker send back what we lack, and our clients' presence
        // goes along; a room being unloaded wants neither.
        const live = phase === 'loaded'
        const reply = this.encoder.encode(Type.syncReply, room.name, room.diff(message.stateVector), live ? room.stateVector() : NONE, live ? room.localAwareness() ?? NONE : NONE)
        this.link.publish(this.instanceChannel(message.from), reply)
        if (live && message.awareness.length > 0) room.applyPeerAwareness(message.from, message.awareness)
        break
      }
      case Type.syncReply: {
        room.applySyncedUpdate(message.from, message.update)
        if (message.stateVector.length > 0) {
          const missing = room.diff(message.stateVector)
          if (!isEmptyUpdate(missing)) {
            this.link.publish(this.instanceChannel(message.from), this.encoder.encode(Type.syncReply, room.name, missing, NONE, NONE))
          }
        }
        if (message.awareness.length > 0) room.applyPeerAwareness(message.from, message.awareness)
        break
      }
    }
  }
}
