/**
 * Many instances serving the same documents, over Redis pub/sub (REDIS_URL). DESIGN.md's rules:
 *
 * - Loading a document: subscribe to its channel, load from the store, then ask the other
 *   instances (SYNC_REQUEST with our state vector) for what the store may not have yet. Each
 *   answers with the difference, its own state vector (so we can send back what it lacks) and
 *   its clients' awareness.
 * - Each accepted update is appended by the instance whose client sent it, and published once.
 *   The others apply it, relay it to their clients, and hold it until its sender publishes that
 *   it is durable (documents/cluster.ts says what happens if it never does).
 * - Every instance publishes a heartbeat; one not heard from for REDIS_PEER_TIMEOUT_MS is gone:
 *   its unconfirmed updates are written by the instances that hold them, and its clients'
 *   awareness states are removed. A clean shutdown says BYE so this happens at once.
 * - Redis going away does not stop anything local: clients keep syncing with the other clients
 *   of the same instance and edits keep being written. What is published meanwhile is lost, so
 *   when the subscription is back every loaded document is synced again with the others, and
 *   the instance says REJOINED: it may have written edits to documents it has since let go,
 *   which nobody else heard of, so every instance reads its loaded documents from the store
 *   again. The same happens when an instance times out (it may have died cut off from Redis).
 *
 * The store is the truth; Redis only carries what is in flight. Nothing is kept in Redis.
 */
import { randomBytes } from 'node:crypto'
import { Redis, type RedisOptions } from 'ioredis'
import type { Cluster, ClusterRoom } from '../documents/cluster.js'
import { isEmptyUpdate, type Room } from '../documents/room.js'
import type { Logger } from '../log.js'
import { decodePeerMessage, MessageType, NONE, PeerEncoder, type PeerMessage } from './messages.js'

export interface RedisClusterOptions {
  readonly url: string
  /** Prefix of every channel name, so several deployments can share one Redis. */
  readonly prefix: string
  /** An instance not heard from for this long is taken as gone. */
  readonly peerTimeoutMs: number
}

/** The documents loaded here (the registry). */
export interface LoadedRooms {
  get (name: string): Room | undefined
  names (): string[]
  /** Reads a loaded document from the store again and applies what the room lacks. */
  refreshFromStore (name: string): Promise<void>
  /** A document being unloaded here (writing its last updates), which can still answer syncs. */
  unloadingRoom (name: string): Room | undefined
  /** Resolves once the documents being unloaded now are written and gone; null when there are none. */
  unloadsSettled (): Promise<void> | null
}

export interface RedisHealth {
  connected: boolean
  latency: number | null
}

const noop = (): void => {}
/** Messages kept for a document between subscribing and having it loaded; past this, the sync covers it. */
const MAX_MESSAGES_WHILE_LOADING = 10_000

export class RedisCluster implements Cluster {
  readonly instanceId = randomBytes(9).toString('base64url')
  private readonly pub: Redis
  private readonly sub: Redis
  private readonly encoder = new PeerEncoder(this.instanceId)
  private readonly docPrefix: string
  private readonly instancesChannel: string
  private readonly ownChannel: string
  /** Channel of every document open here, subscribed to whenever the subscriber is connected. */
  private readonly channels = new Map<string, string>()
  /** Other instances, by id: when last heard from (Date.now()). */
  private readonly peers = new Map<string, number>()
  private rooms: LoadedRooms | null = null
  private heartbeatTimer: NodeJS.Timeout | null = null
  /** Whether a lost connection was already reported (one warning per outage, not per retry). */
  private downReported = false
  /** The subscriber holds every channel on its current connection. */
  private subscriptionsReady = false
  /** Redis was lost since the last rejoin: what was published meanwhile must be recovered. */
  private recovering = false
  /** Documents subscribed to but not loaded yet, with the messages that arrived for them meanwhile. */
  private readonly loading = new Map<string, PeerMessage[]>()
  private heartbeatIntervalMs = 1000
  private lastHeartbeatAt = 0
  /** When this instance last heard its own heartbeat come back through the subscription. */
  private lastOwnHeartbeatAt = 0
  private closed = false
  private badMessages = 0
  /** A pass reading every loaded document from the store again is running / is wanted after it. */
  private refreshing = false
  private refreshAgain = false
  /** A reconnect of the subscriber after a subscription failed on a connection that stayed up. */
  private resubscribeTimer: NodeJS.Timeout | null = null
  private resubscribeFailures = 0
  /** Documents loading while a store re-read pass was asked for: re-read once they are loaded. */
  private readonly refreshOnAttach = new Set<string>()

  constructor (private readonly options: RedisClusterOptions, private readonly log: Logger) {
    this.docPrefix = `${options.prefix}doc:`
    this.instancesChannel = `${options.prefix}instances`
    this.ownChannel = this.instanceChannel(this.instanceId)
    const common: RedisOptions = {
      // Fail fast while disconnected instead of queueing without bound: what is published
      // during an outage is replaced by the sync after it.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
      // A Redis that vanished without closing the connection: notice within seconds, not hours.
      keepAlive: 10_000,
      commandTimeout: 5000,
      lazyConnect: true,
    }
    // One write for every message published in the same turn of the event loop.
    this.pub = new Redis(options.url, { ...common, enableAutoPipelining: true, connectionName: `collabd-pub-${this.instanceId}` })
    // Subscriptions are restored by us on every reconnect (with a sync of every document).
    this.sub = new Redis(options.url, { ...common, autoResubscribe: false, connectionName: `collabd-sub-${this.instanceId}` })
    for (const [role, conn] of [['publisher', this.pub], ['subscriber', this.sub]] as const) {
      conn.on('error', (err: Error) => this.connectionDown(role, err))
      conn.on('close', () => this.connectionDown(role, null))
    }
    this.sub.on('close', () => {
      this.subscriptionsReady = false
      // Reconnecting anyway: a pending forced reconnect would only cut the next good connection.
      this.cancelResubscribe()
    })
    // The two connections come back independently; the sync needs both (it publishes requests
    // and hears answers), so whichever is back last starts it.
    this.pub.on('ready', () => this.rejoinSafely())
    this.sub.on('ready', () => { void this.subscribeAll() })
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.receive(channel, message))
  }

  /**
   * Connects and starts the heartbeat. Waits up to `waitMs` for Redis; if it is not there by
   * then the instance serves its own clients and joins the others once Redis is reachable.
   */
  async start (rooms: LoadedRooms, waitMs = 5000): Promise<void> {
    this.rooms = rooms
    const interval = Math.max(100, Math.min(1000, Math.floor(this.options.peerTimeoutMs / 3)))
    this.heartbeatIntervalMs = interval
    this.heartbeatTimer = setInterval(() => this.heartbeat(), interval)
    this.heartbeatTimer.unref()
    const connected = Promise.all([this.pub.connect(), this.sub.connect()]).then(() => true, () => false)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), waitMs) })
    const ok = await Promise.race([connected, timeout])
    clearTimeout(timer)
    if (!ok) this.log.warn({ instance: this.instanceId }, 'Redis is not reachable; serving this instance\'s clients only until it is')
  }

  get connected (): boolean {
    return this.pub.status === 'ready' && this.sub.status === 'ready'
  }

  private get synced (): boolean {
    return this.connected && this.subscriptionsReady
  }

  async health (timeoutMs = 1000): Promise<RedisHealth> {
    if (!this.connected) return { connected: false, latency: null }
    const start = performance.now()
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        this.pub.ping(),
        new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error('timeout')), timeoutMs) }),
      ])
      return { connected: true, latency: Math.round((performance.now() - start) * 100) / 100 }
    } catch {
      return { connected: false, latency: null }
    } finally {
      clearTimeout(timer)
    }
  }

  async open (name: string): Promise<void> {
    const channel = this.docPrefix + name
    this.channels.set(name, channel)
    this.loading.set(name, [])
    if (this.sub.status !== 'ready') return // subscribeAll() takes it when Redis is back
    try {
      await this.sub.subscribe(channel)
    } catch (err) {
      // Lost the connection meanwhile: subscribeAll() takes it on reconnect. On a connection
      // that stayed up (a timeout), reconnect on purpose, or this document would stay deaf.
      this.subscribeFailed(err)
    }
  }

  attach (room: ClusterRoom): void {
    // What arrived while the store was read: usually also in the answers to the sync request,
    // but not if its sender unloads the document before answering.
    const early = this.loading.get(room.name)
    this.loading.delete(room.name)
    const loaded = this.rooms?.get(room.name)
    if (this.refreshOnAttach.delete(room.name) && this.rooms !== null) {
      // A re-read of every document was asked for while this one loaded: its store read may
      // have come before what the re-read was for.
      this.rooms.refreshFromStore(room.name).catch((err: unknown) => {
        this.log.warn({ err, document: room.name }, 'reading a document from the store again failed; its clients get the missing edits when it reloads')
      })
    }
    if (early !== undefined && loaded !== undefined && early.length > 0) {
      for (const message of early) this.handleSafely(loaded, message)
      // A sender that went while the store was read: its peerGone passed this room by.
      for (const from of new Set(early.map((m) => m.from))) if (!this.peers.has(from)) loaded.peerGone(from)
    }
    this.requestSync(room)
  }

  close (name: string): void {
    this.loading.delete(name)
    this.refreshOnAttach.delete(name)
    const channel = this.channels.get(name)
    if (channel === undefined) return
    this.channels.delete(name)
    if (this.sub.status === 'ready') this.sub.unsubscribe(channel).catch(noop)
  }

  publishUpdate (room: ClusterRoom, seq: number, update: Uint8Array): void {
    this.publish(this.channel(room.name), this.encoder.encode(MessageType.update, room.epoch, seq, update))
  }

  publishCommitted (room: ClusterRoom, seq: number): void {
    this.publish(this.channel(room.name), this.encoder.encode(MessageType.committed, room.epoch, seq))
  }

  publishAwareness (room: ClusterRoom, update: Uint8Array): void {
    this.publish(this.channel(room.name), this.encoder.encode(MessageType.awareness, update))
  }

  /** A server-to-client stateless message for every instance's clients of the document. */
  publishStateless (name: string, payload: string): void {
    this.publish(this.channel(name), this.encoder.encode(MessageType.stateless, payload))
  }

  /** Says goodbye (the others drop this instance's awareness at once) and disconnects. */
  async shutdown (): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer)
    this.cancelResubscribe()
    if (this.pub.status === 'ready') {
      try {
        await this.pub.publish(this.instancesChannel, this.encoder.encode(MessageType.bye))
      } catch {
        // Leaving anyway; the others notice through the heartbeat timeout.
      }
    }
    this.pub.disconnect()
    this.sub.disconnect()
  }

  /** Best effort: while Redis is down the message is dropped (the sync after the outage covers it). */
  private publish (channel: string, message: Buffer): void {
    if (this.pub.status !== 'ready') return
    this.pub.publish(channel, message).catch(noop)
  }

  /** The document's channel name (kept while it is open here, so not rebuilt per update). */
  private channel (name: string): string {
    return this.channels.get(name) ?? this.docPrefix + name
  }

  /** Another instance's own channel, for answers meant for it alone. */
  private instanceChannel (id: string): string {
    return `${this.options.prefix}instance:${id}`
  }

  private requestSync (room: ClusterRoom): void {
    this.publish(this.channel(room.name), this.encoder.encode(MessageType.syncRequest, room.stateVector(), room.localAwareness() ?? NONE))
  }

  private heartbeat (): void {
    this.publish(this.instancesChannel, this.encoder.encode(MessageType.heartbeat))
    const now = Date.now()
    // This timer fired late (the event loop was blocked): the peers' heartbeats may be waiting
    // unread in the socket, so this is no time to judge them.
    const late = now - this.lastHeartbeatAt > 2 * this.heartbeatIntervalMs
    this.lastHeartbeatAt = now
    if (late) return
    for (const [id, seen] of this.peers) {
      if (now - seen > this.options.peerTimeoutMs) this.peerGone(id, 'not heard from within REDIS_PEER_TIMEOUT_MS', true)
    }
    if (this.synced && now - this.lastOwnHeartbeatAt > this.options.peerTimeoutMs) {
      // Our own heartbeats stopped coming back on a connection that looks fine (a Redis that
      // vanished without closing it): reconnect, which resubscribes and syncs.
      // The publisher goes too: it may be writing into the same dead connection.
      this.log.warn('Redis subscription silent; reconnecting')
      this.lastOwnHeartbeatAt = now
      this.subscriptionsReady = false
      this.recovering = true
      this.sub.disconnect(true)
      this.pub.disconnect(true)
    }
  }

  /** With `silently`, the instance may have been cut off from Redis while it wrote edits. */
  private peerGone (id: string, why: string, silently = false): void {
    if (!this.peers.delete(id)) return
    this.log.info({ peer: id, why }, 'instance gone; writing its unconfirmed updates and removing its clients\' presence')
    this.forEachRoom((room) => room.peerGone(id))
    if (silently) this.refreshAllFromStore('another instance timed out')
  }

  /** Another instance was cut off from Redis and is back: what it wrote meanwhile is only in the store. */
  private peerRejoined (id: string): void {
    this.log.info({ peer: id }, 'instance back after losing Redis; reading loaded documents from the store again')
    // Its confirmations of the outage are lost: write what it may never confirm (a duplicate
    // row at worst), so nothing stays held here.
    this.forEachRoom((room) => room.writeUnconfirmed(id))
    this.refreshAllFromStore('another instance rejoined')
  }

  /**
   * Reads every loaded document from the store again, one at a time (and each one still loading
   * once it is loaded); one pass at a time, with one more if asked for meanwhile (it must start
   * after the request to see what it was for).
   */
  private refreshAllFromStore (why: string): void {
    for (const name of this.loading.keys()) this.refreshOnAttach.add(name)
    if (this.refreshing) {
      this.refreshAgain = true
      return
    }
    const rooms = this.rooms
    if (rooms === null) return
    this.refreshing = true
    this.refreshPasses(rooms, why)
      .catch((err: unknown) => this.log.error({ err, why }, 'reading documents from the store again failed'))
      .finally(() => { this.refreshing = false })
  }

  private async refreshPasses (rooms: LoadedRooms, why: string): Promise<void> {
    do {
      this.refreshAgain = false
      // One warning a pass, not one per document (a store that is down fails them all).
      let failed = 0
      let firstError: unknown = null
      for (const name of rooms.names()) {
        if (this.closed) break
        try {
          await rooms.refreshFromStore(name)
        } catch (err) {
          if (failed++ === 0) firstError = err
        }
      }
      if (failed > 0) this.log.warn({ err: firstError, documents: failed, why }, 'reading documents from the store again failed; their clients get the missing edits when they reload')
    } while (this.refreshAgain && !this.closed)
  }

  /** Runs `fn` for every loaded room; one room's failure does not keep the others from theirs. */
  private forEachRoom (fn: (room: Room) => void): void {
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

  /** The subscriber is (re)connected: subscribe to every channel again, then rejoin. */
  private async subscribeAll (): Promise<void> {
    try {
      await this.sub.subscribe(this.instancesChannel, this.ownChannel, ...this.channels.values())
    } catch (err) {
      this.subscribeFailed(err)
      return
    }
    this.resubscribeFailures = 0
    this.subscriptionsReady = true
    this.rejoinSafely()
  }

  /**
   * A SUBSCRIBE failed. If the connection dropped, its reconnect subscribes again anyway; if it
   * stayed up (a command timeout, an ACL refusal), reconnect on purpose, with a growing delay,
   * so the instance is not left connected but deaf.
   */
  private subscribeFailed (err: unknown): void {
    if (this.closed || this.sub.status !== 'ready' || this.resubscribeTimer !== null) return
    const delayMs = Math.min(1000 * 2 ** this.resubscribeFailures++, 30_000)
    this.log.warn({ err, retryInMs: delayMs }, 'subscribing to Redis channels failed; reconnecting')
    this.resubscribeTimer = setTimeout(() => {
      this.resubscribeTimer = null
      if (!this.closed && this.sub.status === 'ready') this.sub.disconnect(true)
    }, delayMs)
    this.resubscribeTimer.unref()
  }

  private cancelResubscribe (): void {
    if (this.resubscribeTimer !== null) clearTimeout(this.resubscribeTimer)
    this.resubscribeTimer = null
  }

  private rejoinSafely (): void {
    try {
      this.rejoin()
    } catch (err) {
      this.log.error({ err }, 'rejoining the other instances failed; retrying on the next reconnect')
    }
  }

  /**
   * Once both connections are up: announce this instance and sync every loaded document with
   * the others (what was published while Redis was away is lost, this recovers it).
   */
  private rejoin (): void {
    if (!this.synced) return
    this.connectionUp()
    this.lastOwnHeartbeatAt = Date.now()
    this.heartbeat()
    this.forEachRoom((room) => this.requestSync(room))
    if (!this.recovering) return
    this.recovering = false
    // The others' edits of the outage may be only in the store (they may have let the document
    // go since), and ours only in the store for them: say so, and read ours again.
    this.publish(this.instancesChannel, this.encoder.encode(MessageType.rejoined))
    // Documents being unloaded may still be writing edits of the outage: once they are in the
    // store, say it again, so the others' re-read finds them.
    void this.rooms?.unloadsSettled()?.then(() => {
      if (this.synced) this.publish(this.instancesChannel, this.encoder.encode(MessageType.rejoined))
    })
    // Confirmations published during the outage are lost both ways: ours again, theirs written.
    this.forEachRoom((room) => {
      room.republishCommitted()
      room.writeUnconfirmed()
    })
    this.refreshAllFromStore('Redis connection back')
  }

  private connectionUp (): void {
    if (!this.connected || !this.downReported) return
    this.downReported = false
    this.log.info('Redis connection back; syncing loaded documents with the other instances')
  }

  private connectionDown (role: string, err: Error | null): void {
    if (this.closed) return
    this.recovering = true
    if (this.downReported) return
    this.downReported = true
    this.log.warn({ role, err: err ?? undefined }, 'Redis connection lost; serving this instance\'s clients only until it is back')
  }

  private receive (channelBytes: Buffer, bytes: Buffer): void {
    let message: PeerMessage
    try {
      message = decodePeerMessage(bytes)
    } catch (err) {
      // Redis is trusted but shared: something else may publish on our channels.
      if (this.badMessages++ % 1000 === 0) this.log.warn({ err, count: this.badMessages }, 'ignored a malformed message from Redis')
      return
    }
    const channel = channelBytes.toString('utf8')
    if (message.from === this.instanceId) {
      // Our own publication; our heartbeat coming back proves the subscription works.
      if (message.type === MessageType.heartbeat) this.lastOwnHeartbeatAt = Date.now()
      return
    }
    if (channel === this.instancesChannel) {
      if (message.type === MessageType.bye) {
        this.peerGone(message.from, 'said goodbye')
        return
      }
      this.peers.set(message.from, Date.now())
      if (message.type === MessageType.rejoined) this.peerRejoined(message.from)
      return
    }
    if (!this.peers.has(message.from)) this.peers.set(message.from, Date.now())
    const rooms = this.rooms
    if (rooms === null) return
    const name = message.type === MessageType.syncReply ? message.document : channel.startsWith(this.docPrefix) ? channel.slice(this.docPrefix.length) : null
    const room = name === null ? undefined : rooms.get(name)
    if (room === undefined) {
      if (name === null) return
      // Being unloaded: its last updates may not be in the store yet, so it still answers.
      const draining = message.type === MessageType.syncRequest ? rooms.unloadingRoom(name) : undefined
      if (draining !== undefined) {
        this.handleSafely(draining, message, false)
        return
      }
      // Being loaded: keep it for attach(). Otherwise not loaded here (any more): nothing to do.
      const early = this.loading.get(name)
      if (early !== undefined && early.length < MAX_MESSAGES_WHILE_LOADING) early.push(message)
      return
    }
    this.handleSafely(room, message)
  }

  /** `live`: a loaded room, not one being unloaded (which only answers sync requests, plainly). */
  private handleSafely (room: Room, message: PeerMessage, live = true): void {
    if (room.failed) return
    try {
      this.handle(room, message, live)
    } catch (err) {
      this.log.warn({ err, document: room.name, peer: message.from, type: message.type }, 'could not apply a message from another instance')
    }
  }

  private handle (room: Room, message: PeerMessage, live: boolean): void {
    switch (message.type) {
      case MessageType.update:
        room.applyPeerUpdate(message.from, message.epoch, message.seq, message.update)
        break
      case MessageType.committed:
        room.peerCommitted(message.from, message.epoch, message.seq)
        break
      case MessageType.awareness:
        room.applyPeerAwareness(message.from, message.update)
        break
      case MessageType.stateless:
        room.broadcastStateless(message.payload)
        break
      // The document first, presence last: bad presence must not cost the sync.
      case MessageType.syncRequest: {
        // Our state vector lets the asker send back what we lack, and our clients' presence
        // goes along; a room being unloaded wants neither.
        const reply = this.encoder.encode(MessageType.syncReply, room.name, room.diff(message.stateVector), live ? room.stateVector() : NONE, live ? room.localAwareness() ?? NONE : NONE)
        this.publish(this.instanceChannel(message.from), reply)
        if (live && message.awareness.length > 0) room.applyPeerAwareness(message.from, message.awareness)
        break
      }
      case MessageType.syncReply: {
        room.applySyncedUpdate(message.from, message.update)
        if (message.stateVector.length > 0) {
          const missing = room.diff(message.stateVector)
          if (!isEmptyUpdate(missing)) {
            this.publish(this.instanceChannel(message.from), this.encoder.encode(MessageType.syncReply, room.name, missing, NONE, NONE))
          }
        }
        if (message.awareness.length > 0) room.applyPeerAwareness(message.from, message.awareness)
        break
      }
    }
  }
}
