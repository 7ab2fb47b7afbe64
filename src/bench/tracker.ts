/**
 * End-to-end latency without trusting bytes: servers re-encode and merge updates, so deliveries
 * are identified by Yjs struct ids. Writers record when each (client, clock) was sent; readers
 * read the clock ranges of every update they receive (Y.parseUpdateMeta) and count each newly
 * covered clock as one delivery, with its latency. Writers only ever insert one character per
 * update, so one clock is one update.
 */
import * as Y from 'yjs'
import { TimeSeries } from './stats.js'

export class DeliveryTracker {
  /** clientId -> sentAt (performance.now()) indexed by clock. */
  private readonly sentAt = new Map<number, number[]>()
  readonly latencies: number[] = []
  deliveries = 0
  readonly series: TimeSeries

  constructor (start = performance.now(), bucketMs = 100) {
    this.series = new TimeSeries(start, bucketMs)
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
   * count); `onProgress` hears the highest clock received per writer.
   */
  receiver (own: number | null, onProgress?: (clientId: number, clock: number) => void): (update: Uint8Array) => void {
    const progress = new Map<number, number>()
    return (update) => {
      const at = performance.now()
      const { from, to } = Y.parseUpdateMeta(update)
      for (const [client, end] of to) {
        if (client === own) continue
        const start = Math.max(progress.get(client) ?? 0, from.get(client) ?? 0)
        if (end <= start) continue
        progress.set(client, end)
        const times = this.sentAt.get(client)
        for (let c = start; c < end; c++) {
          const t = times?.[c]
          if (t !== undefined) this.latencies.push(at - t)
        }
        this.deliveries += end - start
        this.series.add(at, end - start)
        onProgress?.(client, end)
      }
    }
  }
}
