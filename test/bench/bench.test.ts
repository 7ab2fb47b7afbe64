/**
 * `collabd bench` end to end, at its quick sizes: every scenario runs against a real collabd
 * process on both protocols and reports numbers that make sense (deliveries add up, nothing is
 * lost, memory and CPU were read). Nothing here is timed: these tests check the tool, the
 * benchmark itself checks the server.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Progress } from '../../dist/bench/progress.js'
import { runPlan, summarize, type RunRecord } from '../../dist/bench/run.js'
import { ROOT } from '../helpers/server.js'

const metric = (r: RunRecord, name: string): number => {
  const v = r.metrics[name]
  if (typeof v !== 'number') throw new Error(`${r.label} ${r.protocol}: ${name} is ${v}`)
  return v
}

describe('collabd bench, quick sizes, against collabd', () => {
  let records: RunRecord[] = []
  const of = (scenario: string): RunRecord[] => records.filter((r) => r.scenario === scenario)

  beforeAll(async () => {
    records = await runPlan({
      scenarios: ['latency', 'seed', 'fanout', 'rooms', 'connections', 'bigdoc', 'durable'],
      size: 'quick',
      targets: [{ name: 'collabd', store: 'sqlite' }],
      repeat: 1,
      warmUp: false,
    }, new Progress(false))
  }, 240_000)

  it('runs every scenario on every protocol it supports', () => {
    const runs = records.map((r) => `${r.scenario}/${r.protocol}`).sort()
    expect(runs).toEqual([
      'bigdoc/hocuspocus', 'bigdoc/y-websocket', 'connections/hocuspocus', 'connections/y-websocket',
      'durable/hocuspocus', 'fanout/hocuspocus', 'fanout/y-websocket', 'latency/hocuspocus', 'latency/y-websocket',
      'rooms/hocuspocus', 'rooms/y-websocket', 'seed/hocuspocus', 'seed/y-websocket',
    ])
  })

  it('latency and seed: every edit reaches every other client, with latencies and CPU', () => {
    for (const r of [...of('latency'), ...of('seed')]) {
      expect(metric(r, 'lost')).toBe(0)
      expect(metric(r, 'deliveriesPerSecond')).toBeGreaterThan(0)
      expect(metric(r, 'p50Ms')).toBeGreaterThan(0)
      expect(metric(r, 'p99Ms')).toBeGreaterThanOrEqual(metric(r, 'p50Ms'))
      expect(metric(r, 'maxMs')).toBeGreaterThanOrEqual(metric(r, 'p99Ms'))
      expect(metric(r, 'serverCpuSeconds')).toBeGreaterThanOrEqual(0)
      expect(metric(r, 'rssBeforeMB')).toBeGreaterThan(10)
      expect(r.latencies?.length).toBeGreaterThan(0)
    }
    for (const r of of('seed')) expect(metric(r, 'connectSuccessPct')).toBe(100)
  })

  it('fanout: every reader gets every update, counted once', () => {
    for (const r of of('fanout')) {
      const { readers, updates } = r.params as { readers: number, updates: number }
      expect(metric(r, 'deliveries')).toBe(readers * updates)
      expect(metric(r, 'lost')).toBe(0)
      expect(metric(r, 'finishMs')).toBeGreaterThan(0)
      expect(metric(r, 'cpuPerDeliveryUs')).toBeGreaterThanOrEqual(0)
    }
  })

  it('rooms and connections: all connect, edits arrive, memory is read before, during and after', () => {
    for (const r of of('rooms')) {
      expect(metric(r, 'connectFailures')).toBe(0)
      expect(metric(r, 'delivered')).toBe((r.params as { documents: number }).documents)
      expect(metric(r, 'rssConnectedMB')).toBeGreaterThan(0)
      expect(metric(r, 'rssAfterMB')).toBeGreaterThan(0)
      expect(r.metrics.kbPerConnection).not.toBeNull()
    }
    for (const r of of('connections')) {
      expect(metric(r, 'held')).toBe((r.params as { connections: number }).connections)
      expect(metric(r, 'burstLost')).toBe(0)
    }
  })

  it('bigdoc: a new client syncs the whole document warm and after a restart', () => {
    for (const r of of('bigdoc')) {
      expect(metric(r, 'warmSyncMs')).toBeGreaterThan(0)
      expect(metric(r, 'coldSyncMs')).toBeGreaterThan(0)
    }
  })

  it('durable: acknowledgements arrive and are counted', () => {
    const [r] = of('durable')
    expect(metric(r!, 'ackedPerSecond')).toBeGreaterThan(0)
    expect(metric(r!, 'ackP99Ms')).toBeGreaterThanOrEqual(metric(r!, 'ackP50Ms'))
  })
})

describe('collabd bench --compare machinery', () => {
  it('runs the peers as their own processes and computes collabd / best peer', async () => {
    const records = await runPlan({
      scenarios: ['latency'],
      size: 'quick',
      targets: [{ name: 'collabd', store: 'memory' }, { name: 'hocuspocus' }, { name: 'y-websocket' }],
      repeat: 1,
      warmUp: false,
    }, new Progress(false))
    expect(records.map((r) => `${r.target}/${r.protocol}`).sort()).toEqual([
      'Hocuspocus/hocuspocus', 'collabd (memory)/hocuspocus', 'collabd (memory)/y-websocket', 'y-websocket-server/y-websocket',
    ])
    for (const r of records) expect(metric(r, 'lost')).toBe(0)
    const [summary] = summarize(records)
    const ratio = summary!.ratios['collabd (memory)|y-websocket']!.p50Ms
    const best = Math.min(...summary!.rows.filter((row) => row.targetName !== 'collabd').map((row) => row.metrics.p50Ms![0]))
    const ours = summary!.rows.find((row) => row.target === 'collabd (memory)' && row.protocol === 'y-websocket')!.metrics.p50Ms![0]
    expect(ratio).toBeCloseTo(ours / best, 1)
  }, 120_000)

  it('the CLI prints JSON for machines and writes an HTML report with charts', () => {
    const html = path.join(mkdtempSync(path.join(tmpdir(), 'collabd-bench-test-')), 'report.html')
    const run = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'bench', 'seed', '--quick', '--no-warm-up', '--store', 'memory', '--json', '--html', html], { cwd: ROOT, encoding: 'utf8', timeout: 90_000 })
    expect(run.status, run.stderr).toBe(0)
    const out = JSON.parse(run.stdout) as { summaries: Array<{ scenario: string }>, runs: unknown[], versions: Record<string, string> }
    expect(out.summaries.map((s) => s.scenario)).toEqual(['seed'])
    expect(out.runs).toHaveLength(2)
    expect(out.versions.yjs).toMatch(/^13\./)
    const page = readFileSync(html, 'utf8')
    expect(page).toContain('<svg')
    expect(page).toContain('seed')
  }, 120_000)
})
