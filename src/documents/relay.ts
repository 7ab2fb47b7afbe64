/**
 * When a room's outbox (outbox.ts) goes out.
 *
 * What arrived in one socket read goes to each other member as one write, merged into one
 * update when many members share it: relaying each update on its own cost a syscall per update
 * per member, which is most of a server's CPU when one writer bursts to many readers. So a
 * room's outbox is relayed at the end of the turn of the event loop it filled in (one
 * `setImmediate` for all rooms, `EndOfTurn`), or at once when it passes 256 updates or 1 MiB
 * (merging is linear only for modest batches: 20,000 updates merged at once took 9 s).
 *
 * With a broadcast window (BROADCAST_WINDOW_MS above 0), a room that relayed less than that many
 * milliseconds ago waits until then: a busy room sends fewer, larger messages, and each update
 * waits at most the window. The latency added without a window is the rest of the current
 * turn, not a timer.
 */
import type { Broadcast } from './broadcast.js'
import { Outbox, type OutboxRecipient } from './outbox.js'

export type { Broadcast }

/** Bounds on one outbox: past either, it is relayed at once instead of at the end of the turn. */
const OUTBOX_MAX_UPDATES = 256
const OUTBOX_MAX_BYTES = 1024 * 1024

/**
 * The relays due at the end of the current turn of the event loop, run in one `setImmediate`.
 * One per registry (every room of a server shares it).
 */
export class EndOfTurn {
  private due: RelayScheduler<OutboxRecipient>[] = []
  private scheduled = false

  /** Runs `relay.endOfTurn()` at the end of this turn. */
  add (relay: RelayScheduler<OutboxRecipient>): void {
    this.due.push(relay)
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(this.run)
  }

  private readonly run = (): void => {
    this.scheduled = false
    const due = this.due
    this.due = []
    for (const relay of due) relay.endOfTurn()
  }
}

export interface RelayOptions {
  /** 0: at the end of every turn; above 0: at most once per this many milliseconds. */
  readonly broadcastWindowMs: number
}

export class RelayScheduler<M extends OutboxRecipient> {
  private readonly outbox = new Outbox<M>()
  /** Waiting in `turns`. */
  private queuedForTurn = false
  /** performance.now() of the last relay, and the timer of the next one inside the window. */
  private lastFlushAt = Number.NEGATIVE_INFINITY
  private timer: NodeJS.Timeout | null = null
  private stopped = false

  /**
   * @param members who gets the outbox (the room's live set).
   * @param onFailure a relay threw half-way: members may lack updates they will never get.
   */
  constructor (
    private readonly turns: EndOfTurn,
    private readonly members: ReadonlySet<M>,
    private readonly options: RelayOptions,
    private readonly onFailure: (err: Error) => void,
  ) {}

  /** An applied update from `origin` (a member, or not: then every member gets it). */
  relay (origin: object, update: Uint8Array): void {
    const members = this.members
    if (this.stopped || members.size === 0 || (members.size === 1 && members.has(origin as M))) return // nobody to tell
    if (this.outbox.isEmpty) this.schedule()
    this.outbox.addUpdate(origin, update)
    if (this.outbox.updates >= OUTBOX_MAX_UPDATES || this.outbox.bytes >= OUTBOX_MAX_BYTES) this.flush()
  }

  /** A message body for every member, the sender included, in order with the updates before it. */
  relayToEveryone (body: Uint8Array): void {
    if (this.stopped || this.members.size === 0) return
    if (this.outbox.isEmpty) this.schedule()
    this.outbox.addForEveryone(body)
  }

  /** Relays the outbox now: each member gets everything it did not send itself, in one write. */
  readonly flush = (): void => {
    this.clearTimer()
    if (this.outbox.isEmpty) return
    if (this.options.broadcastWindowMs > 0) this.lastFlushAt = performance.now()
    try {
      this.outbox.deliver(this.members)
    } catch (err) {
      this.outbox.clear()
      this.onFailure(err as Error)
    }
  }

  /** Called by EndOfTurn. */
  endOfTurn (): void {
    this.queuedForTurn = false
    // Flushed early since, with a window now running: wait for the window.
    if (this.timer === null) this.flush()
  }

  /** Drops what is waiting and relays nothing more (the room failed or is destroyed). */
  stop (): void {
    this.stopped = true
    this.clearTimer()
    this.outbox.clear()
  }

  private schedule (): void {
    const windowMs = this.options.broadcastWindowMs
    const wait = windowMs === 0 ? 0 : this.lastFlushAt + windowMs - performance.now()
    if (wait > 0) {
      this.timer ??= setTimeout(this.flush, wait)
      return
    }
    if (this.queuedForTurn) return
    this.queuedForTurn = true
    this.turns.add(this)
  }

  private clearTimer (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }
}
