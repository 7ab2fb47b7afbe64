/**
 * Group commit: every accepted update of every document goes into one queue, and one writer
 * sends the queue to the store, so under load one fsync covers many updates (ARCHITECTURE.md,
 * "The path of one update", steps 5, 7 and 8, and "The durability rule"). A target (a room)
 * learns through `committed(seq)` which of its updates are durable. A failed write drops
 * nothing: the same entries are retried, in order, with backoff.
 */
import type { Logger } from '../log.js'
import type { AppendEntry, DocumentStore } from '../storage/types.js'

export interface DurableTarget {
  /** All updates of this target up to and including sequence number `seq` are durable. */
  committed (seq: number): void
}

/** The settings (MAX_PENDING_WRITE_BYTES, COMMIT_INTERVAL_MS), plus tuning a test may narrow. */
export interface DurabilityOptions {
  /** Queued bytes past which `overloaded` is true and rooms refuse new updates. */
  readonly maxPendingBytes: number
  /**
   * Least time from the start of one write to the start of the next. 0 writes as soon as the
   * previous write is done. A few milliseconds let a busy server cover many updates with one
   * commit (each commit is an fsync and a message to the SQLite worker), at the price of that
   * much more acknowledgement delay; relaying updates to other clients never waits for it.
   */
  readonly commitIntervalMs: number
  /** Most entries one write takes (BATCH_TUNING.maxBatchUpdates unless given). */
  readonly maxBatchUpdates?: number
  /** Most bytes one write takes; a single larger update still goes alone. */
  readonly maxBatchBytes?: number
  /** First and longest wait before retrying a failed write (doubling in between). */
  readonly retryMinMs?: number
  readonly retryMaxMs?: number
}

/**
 * Not settings: bounds that keep one transaction modest (5,000 rows or 8 MiB) and a failing
 * store retried from 50 ms doubling to 5 s.
 */
export const BATCH_TUNING = {
  maxBatchUpdates: 5000,
  maxBatchBytes: 8 * 1024 * 1024,
  retryMinMs: 50,
  retryMaxMs: 5000,
} as const

export class Durability {
  // Parallel arrays rather than one object per update: entries go to the store as they are.
  private readonly entries: AppendEntry[] = []
  private readonly targets: DurableTarget[] = []
  private readonly seqs: number[] = []
  private queuedBytes = 0
  private writing = false
  /** A flush is scheduled (next turn, or `intervalTimer`). */
  private scheduled = false
  private intervalTimer: NodeJS.Timeout | null = null
  /** performance.now() when the last write started. */
  private lastWriteAt = Number.NEGATIVE_INFINITY
  private retryMs = 0
  private retryTimer: NodeJS.Timeout | null = null
  private drainWaiters: Array<() => void> = []
  private lastError: Error | null = null
  private stopped = false

  private readonly options: Required<DurabilityOptions>

  constructor (private readonly store: DocumentStore, private readonly log: Logger, options: DurabilityOptions) {
    this.options = { ...BATCH_TUNING, ...options }
  }

  /** Queues one update; `target.committed(seq)` follows once it is durable. */
  append (target: DurableTarget, seq: number, document: string, update: Uint8Array, userId: string | null): void {
    this.entries.push({ document, update, userId })
    this.targets.push(target)
    this.seqs.push(seq)
    this.queuedBytes += update.length
    if (!this.writing && !this.scheduled && this.retryTimer === null && !this.stopped) this.scheduleFlush()
  }

  private scheduleFlush (): void {
    this.scheduled = true
    const wait = this.lastWriteAt + this.options.commitIntervalMs - performance.now()
    if (wait > 0) {
      this.intervalTimer = setTimeout(this.flush, wait)
      return
    }
    // setImmediate, not a microtask: every frame read in this turn of the event loop joins the
    // write.
    setImmediate(this.flush)
  }

  /** Updates queued or in flight. */
  get pendingUpdates (): number {
    return this.entries.length
  }

  get pendingBytes (): number {
    return this.queuedBytes
  }

  /**
   * True while more than `maxPendingBytes` wait to be written (the store is down or slow):
   * rooms then refuse new updates rather than let memory grow until the process dies.
   */
  get overloaded (): boolean {
    return this.queuedBytes > this.options.maxPendingBytes
  }

  /** The error of the last failed write, null once a write succeeded again. */
  get failure (): Error | null {
    return this.lastError
  }

  /** Resolves once everything queued before or during the wait is durable. */
  drain (): Promise<void> {
    if (this.entries.length === 0 && !this.writing) return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  /** Stops writing for good (shutdown, after the deadline); queued entries stay unacknowledged. */
  stop (): void {
    this.stopped = true
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.retryTimer = null
    if (this.intervalTimer !== null) clearTimeout(this.intervalTimer)
    this.intervalTimer = null
  }

  private readonly flush = (): void => {
    this.scheduled = false
    if (this.intervalTimer !== null) clearTimeout(this.intervalTimer)
    this.intervalTimer = null
    if (this.writing || this.entries.length === 0 || this.stopped) return
    this.lastWriteAt = performance.now()
    let count = 0
    let bytes = 0
    while (count < this.entries.length && count < this.options.maxBatchUpdates) {
      const size = this.entries[count]!.update.length
      if (count > 0 && bytes + size > this.options.maxBatchBytes) break
      bytes += size
      count++
    }
    this.writing = true
    // New entries only ever go to the end, so the first `count` are still these on success.
    const batch = this.entries.slice(0, count)
    this.store.append(batch).then(
      () => this.onWritten(count, bytes),
      (err: unknown) => this.onFailed(err as Error, count),
    )
  }

  private onWritten (count: number, bytes: number): void {
    const targets = this.targets.splice(0, count)
    const seqs = this.seqs.splice(0, count)
    this.entries.splice(0, count)
    this.queuedBytes -= bytes
    this.writing = false
    if (this.lastError !== null) {
      this.log.info({ pendingUpdates: this.entries.length }, 'store writes recovered')
      this.lastError = null
    }
    this.retryMs = 0
    // Tell each target once per run, with its highest sequence number in the run. (A target
    // appearing in two runs of one batch gets two calls; committed() is monotonic.)
    let runStart = 0
    for (let i = 1; i <= count; i++) {
      if (i < count && targets[i] === targets[runStart]) continue
      this.notify(targets[runStart]!, seqs[i - 1]!)
      runStart = i
    }
    if (this.entries.length === 0) this.resolveDrain()
    else if (!this.scheduled && !this.stopped) this.scheduleFlush()
  }

  /** One target's failure to handle its commit must not keep the others from hearing of theirs. */
  private notify (target: DurableTarget, seq: number): void {
    try {
      target.committed(seq)
    } catch (err) {
      this.log.error({ err }, 'handling a commit failed')
    }
  }

  private onFailed (err: Error, count: number): void {
    this.writing = false
    if (this.lastError === null) {
      this.log.error({ err, pendingUpdates: this.entries.length, batch: count }, 'store write failed; updates stay queued and unacknowledged, retrying')
    }
    this.lastError = err
    if (this.stopped) return
    this.retryMs = Math.min(this.retryMs === 0 ? this.options.retryMinMs : this.retryMs * 2, this.options.retryMaxMs)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      this.flush()
    }, this.retryMs)
    this.retryTimer.unref()
  }

  private resolveDrain (): void {
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const w of waiters) w()
  }
}
