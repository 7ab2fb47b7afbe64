/**
 * latency: one document, N clients each typing `rate` edits per second for `seconds`; the time
 * from one client's edit to each other client's receipt. Also the seed's own case (`seed`):
 * 5 users, 20 updates each at 10/s.
 */
import { BenchClient } from '../client.js'
import { distribution } from '../stats.js'
import { DeliveryTracker } from '../tracker.js'
import { closeAll, connectAll, cpuBetween, cpuPerDelivery, freshName, mb, round, sleep, waitUntil, type Scenario, type ScenarioContext, type ScenarioResult } from './common.js'

export interface LatencyParams {
  readonly clients: number
  /** Edits per second per client. */
  readonly rate: number
  readonly seconds: number
}

export async function runTyping (ctx: ScenarioContext, p: LatencyParams, scenario: string, label: string): Promise<ScenarioResult> {
  const { target, protocol, progress } = ctx
  const document = freshName(scenario)
  const rssBefore = target.sample()?.rssBytes ?? null
  const tracker = new DeliveryTracker()
  const urls = Array.from({ length: p.clients }, (_, i) => target.url(protocol, document, i))
  const clients = urls.map((url) => new BenchClient({ url, protocol, document, writer: true }))
  // Every client is a writer and a reader of everyone else. With clients spread over several
  // instances, deliveries that crossed instances are also measured apart.
  const spread = new Set(urls).size > 1
  const urlOf = new Map(clients.map((c, i) => [c.clientId, urls[i]!]))
  for (const [i, c] of clients.entries()) c.onUpdate = tracker.receiver(c.clientId, undefined, spread ? (writer) => urlOf.get(writer) !== urls[i] : undefined)
  progress.start(label)
  const { failed } = await connectAll(clients, 20)
  const cpuBefore = target.sample()
  const periodMs = 1000 / p.rate
  const timers: NodeJS.Timeout[] = []
  const started = performance.now()
  let sent = 0
  clients.forEach((c, i) => {
    // Staggered, so the clients do not all type in the same millisecond.
    timers.push(setTimeout(() => {
      timers.push(setInterval(() => {
        if (c.closed) return
        tracker.sent(c.clientId, c.type(), performance.now())
        sent++
      }, periodMs))
    }, (i * periodMs) / p.clients))
  })
  while (performance.now() - started < p.seconds * 1000) {
    await sleep(100)
    progress.update((performance.now() - started) / (p.seconds * 1000))
  }
  for (const t of timers) clearInterval(t)
  const expected = sent * (p.clients - 1)
  await waitUntil(() => tracker.deliveries >= expected, 5000)
  const cpu = cpuBetween(cpuBefore, target.sample())
  const rssAfter = target.sample()?.rssBytes ?? null
  progress.done()
  closeAll(clients)
  const d = distribution(tracker.latencies)
  const local = spread ? distribution(tracker.local.values()) : null
  const cross = spread ? distribution(tracker.cross.values()) : null
  return {
    scenario,
    label,
    params: { ...p, protocol },
    metrics: {
      p50Ms: round(d.p50),
      p95Ms: round(d.p95),
      p99Ms: round(d.p99),
      maxMs: round(d.max),
      avgMs: round(d.mean),
      ...(local === null || cross === null
        ? {}
        : { sameInstanceP50Ms: round(local.p50), sameInstanceP99Ms: round(local.p99), crossInstanceP50Ms: round(cross.p50), crossInstanceP99Ms: round(cross.p99) }),
      deliveriesPerSecond: round(tracker.deliveries / p.seconds, 0),
      lost: expected - tracker.deliveries,
      connectFailures: failed,
      connectSuccessPct: round(((p.clients - failed) / p.clients) * 100, 1),
      serverCpuSeconds: round(cpu, 3),
      cpuPerDeliveryUs: round(cpuPerDelivery(cpu, tracker.deliveries)),
      rssBeforeMB: round(mb(rssBefore), 1),
      rssAfterMB: round(mb(rssAfter), 1),
    },
    latencies: tracker.latencies,
    throughput: tracker.series.rates(),
  }
}

export const latency: Scenario<LatencyParams> = {
  name: 'latency',
  description: 'N clients on one document each typing 10 edits/s for 10 s: end-to-end latency, deliveries/s, lost updates',
  full: [{ clients: 5, rate: 10, seconds: 10 }, { clients: 50, rate: 10, seconds: 10 }],
  quick: [{ clients: 3, rate: 10, seconds: 1 }],
  label: (p) => `latency N=${p.clients}`,
  run: async (ctx, p) => await runTyping(ctx, p, 'latency', latency.label(p)),
}

export const seed: Scenario<LatencyParams> = {
  name: 'seed',
  description: 'the seed plan\'s load test: 5 users, 20 updates each at 10/s; average and max latency, connection success, memory before and after',
  full: [{ clients: 5, rate: 10, seconds: 2 }],
  quick: [{ clients: 5, rate: 10, seconds: 2 }],
  label: () => 'seed 5 users x 20 updates',
  run: async (ctx, p) => await runTyping(ctx, p, 'seed', seed.label(p)),
}
