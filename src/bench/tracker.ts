/**
 * End-to-end latency without trusting bytes: servers re-encode and merge updates, so deliveries
 * are identified by Yjs struct ids. Writers record when each (client, clock) was sent; readers
 * read the clock ranges of every update they receive (update-ranges.ts) and count each newly
 * covered clock as one delivery, with its latency. Writers only ever insert one character per
 * update, so one clock is one update.
 */
import { TimeSeries } from './stats.js'
import { updateRanges } from './update-ranges.js'

/** A growable list of numbers in one Float64Array: a million latencies without a million boxes. */
export class Samples {
  private buffer = new Float64Array(1024)
  length = 0

  push (value: number): void {
    if (this.length === this.buffer.length) {
      const grown = new Float64Array(this.buffer.length * 2)
      grown.set(this.buffer)
      this.buffer = grown
    }
    this.buffer[this.length++] = value
  }

  values (): Float64Array {
    return this.buffer.subarray(0, this.length)
  }
}

export class DeliveryTracker {
  /** clientId -> sentAt (performance.now()) indexed by clock. */
  private readonly sentAt = new Map<number, number[]>()
  private readonly samples = new Samples()
  /** With clients spread over instances: latencies of deliveries that stayed on one, and that crossed. */
  readonly local = new Samples()
  readonly cross = new Samples()
  deliveries = 0
  readonly series: TimeSeries

  constructor (start = performance.now(), bucketMs = 100) {
    this.series = new TimeSeries(start, bucketMs)
  }

  /** Every latency measured, in ms. */
  get latencies (): Float64Array {
    return this.samples.values()
  }

  sent (clientId: number, clock: number, at = performance.now()): void {
    let times = this.sentAt.get(clientId)
    if (times === undefined) {
      times = []
      this.sentAt.set(clientId, times)
    }
    times[clock] = at
  }

  /**
   * A receive handler for one reader. `own` is the reader's own client id (its echoes do not
   * count); `onProgress` hears the highest clock received per writer; `crossed`, when given,
   * says whether a writer's updates reach this reader through another instance.
   */
  receiver (own: number | null, onProgress?: (clientId: number, clock: number) => void, crossed?: (writer: number) => boolean): (update: Uint8Array) => void {
    const progress = new Map<number, number>()
    return (update) => {
      const at = performance.now()
      const { from, to } = updateRanges(update)
      for (const [client, end] of to) {
        if (client === own) continue
        const start = Math.max(progress.get(client) ?? 0, from.get(client) ?? 0)
        if (end <= start) continue
        progress.set(client, end)
        const times = this.sentAt.get(client)
        const split = crossed === undefined ? null : crossed(client) ? this.cross : this.local
        for (let c = start; c < end; c++) {
          const t = times?.[c]
          if (t === undefined) continue
          this.samples.push(at - t)
          split?.push(at - t)
        }
        this.deliveries += end - start
        this.series.add(at, end - start)
        onProgress?.(client, end)
      }
    }
  }
}
