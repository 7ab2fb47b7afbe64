/**
 * durable: acknowledged updates per second that C clients can push, each keeping a window of
 * updates in flight, and the acknowledgement delay. For collabd an acknowledgement means the
 * update is committed to its store; Hocuspocus acknowledges without storing anything.
 */
import { BenchClient } from '../client.js'
import { distribution } from '../stats.js'
import { closeAll, connectAll, cpuBetween, freshName, round, sleep, waitUntil, type Scenario } from './common.js'

export interface DurableParams {
  readonly clients: number
  readonly seconds: number
  /** Updates each client keeps in flight. */
  readonly window: number
}

export const durable: Scenario<DurableParams> = {
  name: 'durable',
  description: 'acknowledged updates/s one and ten clients push (a window of 64 in flight each), acknowledgement delay p50/p99',
  full: [{ clients: 1, seconds: 5, window: 64 }, { clients: 10, seconds: 5, window: 64 }],
  quick: [{ clients: 2, seconds: 1, window: 16 }],
  protocols: ['hocuspocus'],
  label: (p) => `durable ${p.clients} client${p.clients === 1 ? '' : 's'}`,
  run: async ({ target, protocol, progress }, p) => {
    const label = durable.label(p)
    const document = freshName('durable')
    const delays: number[] = []
    let sending = true
    let acked = 0
    const clients = Array.from({ length: p.clients }, () => new BenchClient({ url: target.url(protocol, document), protocol, document, writer: true }))
    progress.start(label)
    await connectAll(clients, 10)
    const cpuBefore = target.sample()
    const start = performance.now()
    for (const c of clients) {
      const inFlight: number[] = []
      let head = 0
      const send = (): void => {
        inFlight.push(performance.now())
        c.type()
      }
      c.onAck = () => {
        delays.push(performance.now() - inFlight[head++]!)
        acked++
        if (head > 4096) {
          inFlight.splice(0, head)
          head = 0
        }
        if (sending) send()
      }
      for (let i = 0; i < p.window; i++) send()
    }
    while (performance.now() - start < p.seconds * 1000) {
      await sleep(100)
      progress.update((performance.now() - start) / (p.seconds * 1000))
    }
    sending = false
    const ackedInWindow = acked
    const elapsed = (performance.now() - start) / 1000
    const cpu = cpuBetween(cpuBefore, target.sample())
    await waitUntil(() => acked >= ackedInWindow + p.clients * p.window, 10_000)
    progress.done()
    closeAll(clients)
    const d = distribution(delays)
    return {
      scenario: 'durable',
      label,
      params: { ...p, protocol },
      metrics: {
        ackedPerSecond: round(ackedInWindow / elapsed, 0),
        ackP50Ms: round(d.p50),
        ackP99Ms: round(d.p99),
        ackMaxMs: round(d.max),
        serverCpuSeconds: round(cpu, 3),
        cpuPerAckUs: cpu === null || ackedInWindow === 0 ? null : round((cpu * 1e6) / ackedInWindow),
      },
      latencies: delays,
    }
  },
}
