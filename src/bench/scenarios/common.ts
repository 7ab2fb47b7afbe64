/** What every scenario shares: its context, its result, and helpers to run many clients. */
import type { BenchClient, BenchProtocol } from '../client.js'
import type { ProcessSample } from '../proc.js'
import type { Progress } from '../progress.js'
import type { Target } from '../targets.js'

export interface ScenarioContext {
  readonly target: Target
  readonly protocol: BenchProtocol
  readonly progress: Progress
}

export type Metrics = Record<string, number | null>

export interface ScenarioResult {
  /** Scenario name, e.g. `latency`. */
  readonly scenario: string
  /** Scenario and its size, e.g. `latency N=50`. */
  readonly label: string
  readonly params: Readonly<Record<string, number | string>>
  readonly metrics: Metrics
  /** Latency samples in ms, for charts (may be a uniform sample). */
  readonly latencies?: ArrayLike<number>
  /** [seconds, deliveries per second], for charts. */
  readonly throughput?: ReadonlyArray<readonly [number, number]>
  readonly notes?: readonly string[]
}

export interface Scenario<P> {
  readonly name: string
  /** What it measures, for --help. */
  readonly description: string
  /** The sizes the issue asks for, and small ones for tests and smoke runs. */
  readonly full: readonly P[]
  readonly quick: readonly P[]
  label (params: P): string
  /** Protocols it can run on (durable needs acknowledgements, so Hocuspocus only). */
  readonly protocols?: readonly BenchProtocol[]
  run (ctx: ScenarioContext, params: P): Promise<ScenarioResult>
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `predicate` until true or `timeoutMs`. @returns whether it became true. */
export async function waitUntil (predicate: () => boolean, timeoutMs: number, intervalMs = 5): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (!predicate()) {
    if (performance.now() > deadline) return false
    await sleep(intervalMs)
  }
  return true
}

/**
 * Connects clients with at most `concurrency` handshakes in flight.
 * @returns how long it took and how many failed.
 */
export async function connectAll (clients: readonly BenchClient[], concurrency: number, onProgress?: (done: number) => void): Promise<{ ms: number, failed: number }> {
  const start = performance.now()
  let next = 0
  let done = 0
  let failed = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, clients.length) }, async () => {
    while (next < clients.length) {
      const client = clients[next++]!
      try {
        await client.connect()
      } catch {
        failed++
      }
      onProgress?.(++done)
    }
  }))
  return { ms: performance.now() - start, failed }
}

export function closeAll (clients: readonly BenchClient[]): void {
  for (const c of clients) c.close()
}

/** Closes clients with a close handshake, as leaving users do, `concurrency` at a time. */
export async function endAll (clients: readonly BenchClient[], concurrency = 200): Promise<void> {
  for (let i = 0; i < clients.length; i += concurrency) {
    await Promise.all(clients.slice(i, i + concurrency).map(async (c) => await Promise.race([c.end(), sleep(2000)])))
  }
  closeAll(clients)
}

/** Server CPU seconds used between two samples (null when the process cannot be read). */
export function cpuBetween (before: ProcessSample | null, after: ProcessSample | null): number | null {
  return before === null || after === null ? null : after.cpuSeconds - before.cpuSeconds
}

/** Server CPU microseconds per delivered update. */
export function cpuPerDelivery (cpuSeconds: number | null, deliveries: number): number | null {
  return cpuSeconds === null || deliveries === 0 ? null : (cpuSeconds * 1e6) / deliveries
}

export const mb = (bytes: number | null | undefined): number | null => (bytes === null || bytes === undefined ? null : bytes / (1024 * 1024))

export const round = (n: number | null, digits = 2): number | null => (n === null || !Number.isFinite(n) ? null : Math.round(n * 10 ** digits) / 10 ** digits)

/** A document name no earlier run used, so runs never share state on a long-lived server. */
export const freshName = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`

/** Waits until the server's memory stops moving (GC, unloads), at most `maxMs`. @returns the last sample. */
export async function settledSample (target: Target, maxMs: number): Promise<ProcessSample | null> {
  let last = target.sample()
  const deadline = performance.now() + maxMs
  while (performance.now() < deadline) {
    await sleep(500)
    const now = target.sample()
    if (last !== null && now !== null && Math.abs(now.rssBytes - last.rssBytes) < 256 * 1024 && now.cpuSeconds - last.cpuSeconds < 0.01) return now
    last = now
  }
  return last
}
