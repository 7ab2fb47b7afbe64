/** Small statistics helpers for the benchmark: percentiles, histograms, time series, medians. */

export interface Distribution {
  readonly count: number
  readonly mean: number
  readonly p50: number
  readonly p95: number
  readonly p99: number
  readonly max: number
}

/** Nearest-rank percentile of an ascending array. */
export function percentile (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}

export function distribution (values: ArrayLike<number>): Distribution {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort()
  let sum = 0
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]!
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
  }
}

export function median (values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (finite.length === 0) return Number.NaN
  const mid = finite.length >> 1
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2
}

/** Counts events into fixed buckets of `bucketMs` from `start`, for throughput-over-time charts. */
export class TimeSeries {
  private readonly buckets: number[] = []
  constructor (private readonly start: number, readonly bucketMs = 100) {}

  add (at: number, count = 1): void {
    const i = Math.max(0, Math.floor((at - this.start) / this.bucketMs))
    while (this.buckets.length <= i) this.buckets.push(0)
    this.buckets[i]! += count
  }

  /** [seconds since start, events per second] for each bucket. */
  rates (): Array<[number, number]> {
    return this.buckets.map((n, i) => [(i * this.bucketMs) / 1000, (n * 1000) / this.bucketMs])
  }
}

/** Keeps at most `size` values, a uniform sample of everything added (reservoir sampling). */
export class Reservoir {
  readonly values: number[] = []
  private seen = 0
  constructor (private readonly size = 20_000) {}

  add (v: number): void {
    this.seen++
    if (this.values.length < this.size) this.values.push(v)
    else {
      const j = Math.floor(Math.random() * this.seen)
      if (j < this.size) this.values[j] = v
    }
  }
}
