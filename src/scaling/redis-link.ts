/**
 * The two Redis connections of an instance (a publisher and a subscriber: a subscribed
 * connection can run no other command), kept up: reconnects, channel subscriptions restored on
 * every reconnect, and the checks that a connection which looks fine is not deaf.
 *
 * Nothing here knows what the messages mean (redis-cluster.ts does). What it tells its owner:
 * `onUp`, each time both connections are ready and the subscriber holds every channel, saying
 * whether a connection was lost (or never reached) since the last time, in which case what was
 * published meanwhile is lost and must be recovered; and `onMessage` for every message heard.
 *
 * Two ways a connection can look fine and be useless, both handled:
 * - a SUBSCRIBE that fails on a connection that stays up (a command timeout, an ACL that refuses
 *   the channel): the subscriber is reconnected on purpose, after 1 s doubling to 30 s;
 * - a Redis that vanished without closing the connection (the instance's own heartbeat stops
 *   coming back, `checkSilent`): both connections are reconnected.
 */
import { Redis, type RedisOptions } from 'ioredis'
import type { ClusterHealth } from '../documents/cluster.js'
import type { Logger } from '../log.js'

/**
 * - connecting: started, and nothing was lost yet;
 * - up: both connections ready and every channel subscribed;
 * - down: a connection was lost (or never reached) since the link was last up: once both are
 *   back, what was published meanwhile has to be recovered;
 * - closed: shut down for good.
 */
export type LinkState = 'connecting' | 'up' | 'down' | 'closed'

export interface LinkHandlers {
  /** Both connections are ready and subscribed. */
  onUp (info: { readonly afterOutage: boolean }): void
  onMessage (channel: Buffer, message: Buffer): void
}

export interface RedisLinkOptions {
  readonly url: string
  /** Names the connections in Redis's CLIENT LIST: collabd-pub-<name>, collabd-sub-<name>. */
  readonly name: string
  /** Channels subscribed to for the link's whole life (besides the documents'). */
  readonly baseChannels: readonly string[]
  /** A subscriber that heard nothing of its own for this long is taken as deaf. */
  readonly silentAfterMs: number
}

const noop = (): void => {}
const RESUBSCRIBE_FIRST_MS = 1000
const RESUBSCRIBE_MAX_MS = 30_000
const PING_TIMEOUT_MS = 1000
/** ioredis `disconnect(reconnect)`: drop the connection and connect again. */
const RECONNECT = true

export class RedisLink {
  private linkState: LinkState = 'connecting'
  private readonly pub: Redis
  private readonly sub: Redis
  /** The subscriber holds every channel on its current connection. */
  private subscribed = false
  /** Document channels, subscribed to whenever the subscriber is connected. */
  private readonly channels = new Set<string>()
  private resubscribeTimer: NodeJS.Timeout | null = null
  private resubscribeFailures = 0
  /** When the instance last heard itself through the subscriber (`heardOwnVoice`). */
  private lastHeardAt = 0

  constructor (private readonly options: RedisLinkOptions, private readonly handlers: LinkHandlers, private readonly log: Logger) {
    const common: RedisOptions = {
      // Fail fast while disconnected instead of queueing without bound: what is published
      // during an outage is replaced by the recovery after it.
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
    this.pub = new Redis(options.url, { ...common, enableAutoPipelining: true, connectionName: `collabd-pub-${options.name}` })
    // Subscriptions are restored here on every reconnect (and followed by onUp).
    this.sub = new Redis(options.url, { ...common, autoResubscribe: false, connectionName: `collabd-sub-${options.name}` })
    for (const [role, conn] of [['publisher', this.pub], ['subscriber', this.sub]] as const) {
      conn.on('error', (err: Error) => this.lost(role, err))
      conn.on('close', () => this.lost(role, null))
    }
    this.sub.on('close', () => {
      this.subscribed = false
      // Reconnecting anyway: a pending forced reconnect would only cut the next good connection.
      this.cancelResubscribe()
    })
    // The two connections come back independently; whichever is ready last brings the link up.
    this.pub.on('ready', () => this.tryUp())
    this.sub.on('ready', () => { void this.subscribeAll() })
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.handlers.onMessage(channel, message))
  }

  get state (): LinkState {
    return this.linkState
  }

  /** Both connections are connected and the subscriber holds every channel. */
  get synced (): boolean {
    return this.linkState !== 'closed' && this.connected && this.subscribed
  }

  /** Both connections are connected (whether or not every channel is subscribed yet). */
  get connected (): boolean {
    return this.pub.status === 'ready' && this.sub.status === 'ready'
  }

  /**
   * Connects both. @returns whether both were connected within `waitMs`; if not, they keep
   * trying and the link comes up when Redis is reachable.
   */
  async connect (waitMs: number): Promise<boolean> {
    const connected = Promise.all([this.pub.connect(), this.sub.connect()]).then(() => true, () => false)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), waitMs) })
    try {
      return await Promise.race([connected, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Subscribes to a document's channel now if connected, else on reconnect. */
  async subscribe (channel: string): Promise<void> {
    this.channels.add(channel)
    if (this.sub.status !== 'ready') return
    try {
      await this.sub.subscribe(channel)
    } catch (err) {
      this.subscribeFailed(err)
    }
  }

  unsubscribe (channel: string): void {
    if (!this.channels.delete(channel)) return
    if (this.sub.status === 'ready') this.sub.unsubscribe(channel).catch(noop)
  }

  /** Best effort: while the publisher is down the message is dropped (recovery covers it). */
  publish (channel: string, message: Buffer): void {
    if (this.pub.status !== 'ready') return
    this.pub.publish(channel, message).catch(noop)
  }

  async health (): Promise<ClusterHealth> {
    if (!this.connected) return { connected: false, latency: null }
    const start = performance.now()
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        this.pub.ping(),
        new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error('timeout')), PING_TIMEOUT_MS) }),
      ])
      return { connected: true, latency: Math.round((performance.now() - start) * 100) / 100 }
    } catch {
      // A failed or slow PING is the answer itself: not connected.
      return { connected: false, latency: null }
    } finally {
      clearTimeout(timer)
    }
  }

  /** The instance heard its own heartbeat through the subscriber: it is not deaf. */
  heardOwnVoice (): void {
    this.lastHeardAt = Date.now()
  }

  /**
   * If both connections look up but the instance has not heard itself for `silentAfterMs` (a Redis that
   * vanished without closing the connections), reconnects both (the publisher may be writing
   * into the same dead connection): the reconnect resubscribes and brings the link up again.
   */
  checkSilent (now: number): void {
    if (!this.synced || now - this.lastHeardAt <= this.options.silentAfterMs) return
    this.log.warn('Redis subscription silent; reconnecting')
    this.lastHeardAt = now
    this.subscribed = false
    this.lost('subscriber', null)
    this.sub.disconnect(RECONNECT)
    this.pub.disconnect(RECONNECT)
  }

  /** Publishes `lastWords` if it can (a goodbye), then disconnects for good. */
  async close (lastWords: { readonly channel: string, readonly message: Buffer } | null): Promise<void> {
    if (this.linkState === 'closed') return
    this.linkState = 'closed'
    this.cancelResubscribe()
    if (lastWords !== null && this.pub.status === 'ready') {
      try {
        await this.pub.publish(lastWords.channel, lastWords.message)
      } catch {
        // Leaving anyway; the others notice through the heartbeat timeout.
      }
    }
    this.pub.disconnect()
    this.sub.disconnect()
  }

  /** The subscriber is (re)connected: subscribe to every channel again, then come up. */
  private async subscribeAll (): Promise<void> {
    try {
      await this.sub.subscribe(...this.options.baseChannels, ...this.channels)
    } catch (err) {
      this.subscribeFailed(err)
      return
    }
    this.resubscribeFailures = 0
    this.subscribed = true
    this.tryUp()
  }

  private tryUp (): void {
    if (!this.synced) return
    const afterOutage = this.linkState === 'down'
    this.linkState = 'up'
    if (afterOutage) this.log.info('Redis connection back; syncing loaded documents with the other instances')
    this.lastHeardAt = Date.now()
    try {
      this.handlers.onUp({ afterOutage })
    } catch (err) {
      this.log.error({ err }, 'rejoining the other instances failed; retrying on the next reconnect')
    }
  }

  /** A connection was lost (or never reached): one warning per outage, not one per retry. */
  private lost (role: 'publisher' | 'subscriber', err: Error | null): void {
    if (this.linkState === 'closed' || this.linkState === 'down') return
    this.linkState = 'down'
    this.log.warn({ role, err: err ?? undefined }, 'Redis connection lost; serving this instance\'s clients only until it is back')
  }

  /**
   * A SUBSCRIBE failed. If the connection dropped, its reconnect subscribes again anyway; if it
   * stayed up, reconnect on purpose, with a growing delay, so the instance is not left deaf.
   */
  private subscribeFailed (err: unknown): void {
    if (this.linkState === 'closed' || this.sub.status !== 'ready' || this.resubscribeTimer !== null) return
    const delayMs = Math.min(RESUBSCRIBE_FIRST_MS * 2 ** this.resubscribeFailures++, RESUBSCRIBE_MAX_MS)
    this.log.warn({ err, retryInMs: delayMs }, 'subscribing to Redis channels failed; reconnecting')
    this.resubscribeTimer = setTimeout(() => {
      this.resubscribeTimer = null
      if (this.linkState !== 'closed' && this.sub.status === 'ready') this.sub.disconnect(RECONNECT)
    }, delayMs)
    this.resubscribeTimer.unref()
  }

  private cancelResubscribe (): void {
    if (this.resubscribeTimer !== null) clearTimeout(this.resubscribeTimer)
    this.resubscribeTimer = null
  }
}
