/**
 * rooms: many documents with two clients each, connected with bounded concurrency; one edit per
 * document, seen by its peer. Connect rate, and the server's memory idle, connected, and after
 * every client left (it must come back).
 *
 * connections: many idle connections on one instance (spread over documents), then a burst of
 * edits on a sample of them. Memory per idle connection.
 */
import { BenchClient } from '../client.js'
import { distribution } from '../stats.js'
import { DeliveryTracker } from '../tracker.js'
import { closeAll, connectAll, cpuBetween, cpuPerDelivery, endAll, freshName, mb, round, settledSample, waitUntil, type Scenario } from './common.js'

export interface RoomsParams {
  readonly documents: number
  readonly clientsPerDocument: number
}

export const rooms: Scenario<RoomsParams> = {
  name: 'rooms',
  description: '2,000 clients on 1,000 documents, one edit each seen by its peer: connect rate, RSS idle/connected/after close, KB per connection and document',
  full: [{ documents: 1000, clientsPerDocument: 2 }],
  quick: [{ documents: 20, clientsPerDocument: 2 }],
  label: (p) => `rooms ${p.documents * p.clientsPerDocument} clients / ${p.documents} docs`,
  run: async ({ target, protocol, progress }, p) => {
    const label = rooms.label(p)
    const prefix = freshName('rooms')
    const idle = await settledSample(target, 5000)
    const tracker = new DeliveryTracker()
    const groups = Array.from({ length: p.documents }, (_, d) => {
      const document = `${prefix}-${d}`
      return Array.from({ length: p.clientsPerDocument }, (_, i) => {
        const c = new BenchClient({ url: target.url(protocol, document), protocol, document, writer: i === 0 })
        c.onUpdate = tracker.receiver(c.doc?.clientID ?? null)
        return c
      })
    })
    const clients = groups.flat()
    progress.start(label)
    const connect = await connectAll(clients, 50, (done) => progress.update((done / clients.length) * 0.8))
    const cpuBefore = target.sample()
    for (const g of groups) if (!g[0]!.closed) tracker.sent(g[0]!.clientId, g[0]!.type())
    const expected = p.documents * (p.clientsPerDocument - 1)
    await waitUntil(() => tracker.deliveries >= expected - connect.failed, 30_000)
    const cpu = cpuBetween(cpuBefore, target.sample())
    const connected = await settledSample(target, 3000)
    progress.update(0.9)
    await endAll(clients)
    // collabd keeps a document for DOCUMENT_UNLOAD_DELAY_MS (1 s in benchmarks) after its last
    // client left; wait for the memory to settle.
    const after = await settledSample(target, 15_000)
    progress.done()
    const grown = connected !== null && idle !== null ? connected.rssBytes - idle.rssBytes : null
    const d = distribution(tracker.latencies)
    return {
      scenario: 'rooms',
      label,
      params: { ...p, protocol },
      metrics: {
        connectPerSecond: round(clients.length / (connect.ms / 1000), 0),
        connectFailures: connect.failed,
        delivered: tracker.deliveries,
        p50Ms: round(d.p50),
        p99Ms: round(d.p99),
        rssIdleMB: round(mb(idle?.rssBytes), 1),
        rssConnectedMB: round(mb(connected?.rssBytes), 1),
        rssAfterMB: round(mb(after?.rssBytes), 1),
        afterVsIdlePct: idle !== null && after !== null ? round(((after.rssBytes - idle.rssBytes) / idle.rssBytes) * 100, 1) : null,
        kbPerConnection: grown === null ? null : round(grown / clients.length / 1024, 1),
        kbPerDocument: grown === null ? null : round(grown / p.documents / 1024, 1),
        serverCpuSeconds: round(cpu, 3),
        cpuPerDeliveryUs: round(cpuPerDelivery(cpu, tracker.deliveries)),
      },
      latencies: tracker.latencies,
    }
  },
}

export interface ConnectionsParams {
  readonly connections: number
  readonly documents: number
  /** Clients that each type `edits` edits once everyone is connected. */
  readonly writers: number
  readonly edits: number
}

export const connections: Scenario<ConnectionsParams> = {
  name: 'connections',
  description: '10,000 concurrent idle connections, then a burst of edits on a sample: memory per idle connection, connect rate, burst latency',
  full: [{ connections: 10_000, documents: 100, writers: 100, edits: 10 }],
  quick: [{ connections: 200, documents: 10, writers: 10, edits: 5 }],
  label: (p) => `connections ${p.connections}`,
  run: async ({ target, protocol, progress }, p) => {
    const label = connections.label(p)
    const prefix = freshName('conns')
    const idle = await settledSample(target, 5000)
    const tracker = new DeliveryTracker()
    const clients = Array.from({ length: p.connections }, (_, i) => {
      const document = `${prefix}-${i % p.documents}`
      const c = new BenchClient({ url: target.url(protocol, document), protocol, document, writer: i < p.writers })
      c.onUpdate = tracker.receiver(c.doc?.clientID ?? null)
      return c
    })
    progress.start(label)
    const connect = await connectAll(clients, 100, (done) => progress.update((done / clients.length) * 0.8))
    const connected = await settledSample(target, 5000)
    const open = clients.filter((c) => !c.closed).length
    const cpuBefore = target.sample()
    const perDocument = p.connections / p.documents
    for (let e = 0; e < p.edits; e++) {
      for (const w of clients.slice(0, p.writers)) if (!w.closed) tracker.sent(w.clientId, w.type())
    }
    const expected = p.writers * p.edits * (perDocument - 1)
    await waitUntil(() => tracker.deliveries >= expected, 30_000)
    const cpu = cpuBetween(cpuBefore, target.sample())
    progress.update(0.95)
    closeAll(clients)
    progress.done()
    const d = distribution(tracker.latencies)
    return {
      scenario: 'connections',
      label,
      params: { ...p, protocol },
      metrics: {
        held: open,
        connectFailures: connect.failed,
        connectPerSecond: round(clients.length / (connect.ms / 1000), 0),
        rssIdleMB: round(mb(idle?.rssBytes), 1),
        rssConnectedMB: round(mb(connected?.rssBytes), 1),
        kbPerConnection: idle !== null && connected !== null ? round((connected.rssBytes - idle.rssBytes) / p.connections / 1024, 1) : null,
        burstDeliveries: tracker.deliveries,
        burstLost: expected - tracker.deliveries,
        burstP50Ms: round(d.p50),
        burstP99Ms: round(d.p99),
        serverCpuSeconds: round(cpu, 3),
        cpuPerDeliveryUs: round(cpuPerDelivery(cpu, tracker.deliveries)),
      },
      latencies: tracker.latencies,
    }
  },
}
