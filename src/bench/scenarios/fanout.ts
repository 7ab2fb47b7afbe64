/**
 * fanout: one writer and M readers on one document; the writer sends K small updates as fast as
 * its socket allows. How long until every reader has all of them, deliveries per second, and
 * the latency of each update at each reader.
 */
import { BenchClient } from '../client.js'
import { distribution } from '../stats.js'
import { DeliveryTracker } from '../tracker.js'
import { closeAll, connectAll, cpuBetween, cpuPerDelivery, freshName, round, sleep, waitUntil, type Scenario } from './common.js'

export interface FanoutParams {
  readonly readers: number
  readonly updates: number
}

export const fanout: Scenario<FanoutParams> = {
  name: 'fanout',
  description: 'one writer, M readers, 2,000 updates as fast as the socket allows: time until every reader has all, deliveries/s, latency',
  full: [{ readers: 100, updates: 2000 }, { readers: 500, updates: 2000 }],
  quick: [{ readers: 10, updates: 200 }],
  label: (p) => `fanout M=${p.readers}`,
  run: async ({ target, protocol, progress }, p) => {
    const document = freshName('fanout')
    const url = target.url(protocol, document)
    const label = fanout.label(p)
    const tracker = new DeliveryTracker()
    const writer = new BenchClient({ url, protocol, document, writer: true })
    let complete = 0
    const readers = Array.from({ length: p.readers }, () => {
      const reader = new BenchClient({ url, protocol, document })
      reader.onUpdate = tracker.receiver(null, (client, clock) => {
        if (client === writer.clientId && clock === p.updates) complete++
      })
      return reader
    })
    progress.start(label)
    const { failed } = await connectAll([...readers, writer], 50)
    // Typed beforehand: the benchmark process also hosts every reader, so time the writer spends
    // in Yjs is time the readers cannot read.
    const edits = writer.prepareTyping(p.updates)
    const cpuBefore = target.sample()
    const start = performance.now()
    for (let i = 0; i < p.updates; i++) {
      const edit = edits[i]!
      tracker.sent(writer.clientId, edit.clock)
      writer.sendUpdate(edit.update)
      // Yield now and then so the readers (in this process) keep reading; back off while the
      // writer's socket is full, which is "as fast as the socket allows".
      if (i % 50 === 49) {
        await sleep(0)
        while (writer.bufferedAmount > 1024 * 1024) await sleep(1)
      }
    }
    const allDone = await waitUntil(() => {
      progress.update(complete / p.readers)
      return complete >= p.readers - failed
    }, 120_000)
    const finishMs = performance.now() - start
    const cpu = cpuBetween(cpuBefore, target.sample())
    progress.done()
    closeAll([...readers, writer])
    const d = distribution(tracker.latencies)
    return {
      scenario: 'fanout',
      label,
      params: { ...p, protocol },
      metrics: {
        finishMs: allDone ? round(finishMs, 0) : null,
        deliveriesPerSecond: round(tracker.deliveries / (finishMs / 1000), 0),
        deliveries: tracker.deliveries,
        lost: p.updates * (p.readers - failed) - tracker.deliveries,
        p50Ms: round(d.p50),
        p99Ms: round(d.p99),
        maxMs: round(d.max),
        serverCpuSeconds: round(cpu, 3),
        cpuPerDeliveryUs: round(cpuPerDelivery(cpu, tracker.deliveries)),
        connectFailures: failed,
      },
      latencies: tracker.latencies,
      throughput: tracker.series.rates(),
    }
  },
}
