#!/usr/bin/env node
// Prints docs/benchmarks.md's comparison table from `collabd bench --compare --json` output:
//   npm run bench:compare -- --json > bench-results/compare.json
//   node scripts/bench-table.mjs bench-results/compare.json
// One row per headline measurement; medians over the runs, with the spread when it is wide.
import { readFileSync } from 'node:fs'

const ROWS = [
  ['latency N=5', 'p50Ms', 'p50 latency, ms', 'lower'],
  ['latency N=50', 'p50Ms', 'p50 latency, ms', 'lower'],
  ['latency N=50', 'p99Ms', 'p99 latency, ms', 'lower'],
  ['latency N=50', 'cpuPerDeliveryUs', 'server CPU per delivered update, µs', 'lower'],
  ['fanout M=100', 'finishMs', 'time until all readers have all 2,000 updates, ms', 'lower'],
  ['fanout M=500', 'finishMs', 'time until all readers have all 2,000 updates, ms', 'lower'],
  ['fanout M=500', 'cpuPerDeliveryUs', 'server CPU per delivered update, µs', 'lower'],
  ['rooms 2000 clients / 1000 docs', 'kbPerConnection', 'RSS per connection, KB', 'lower'],
  ['rooms 2000 clients / 1000 docs', 'afterVsIdlePct', 'RSS after all left, % above idle', 'lower'],
  ['connections 10000', 'held', 'connections held', 'higher'],
  ['connections 10000', 'kbPerConnection', 'RSS per idle connection, KB', 'lower'],
  ['connections 10000', 'burstP99Ms', 'p99 latency of an edit burst, ms', 'lower'],
  ['bigdoc 20000 edits', 'warmSyncMs', 'new client has the whole document (in memory), ms', 'lower'],
  ['bigdoc 20000 edits', 'coldSyncMs', '... right after a restart (from the store), ms', 'lower'],
  ['durable 1 client', 'ackedPerSecond', 'acknowledged updates/s', 'higher'],
  ['durable 1 client', 'ackP99Ms', 'acknowledgement delay p99, ms', 'lower'],
  ['durable 10 clients', 'ackedPerSecond', 'acknowledged updates/s', 'higher'],
  ['seed 5 users x 20 updates', 'avgMs', 'average latency, ms', 'lower'],
  ['seed 5 users x 20 updates', 'maxMs', 'max latency, ms', 'lower'],
]
const COLUMNS = [
  ['collabd (sqlite)', 'y-websocket', 'collabd, y-websocket'],
  ['collabd (sqlite)', 'hocuspocus', 'collabd, Hocuspocus'],
  ['Hocuspocus', 'hocuspocus', 'Hocuspocus 4'],
  ['y-websocket-server', 'y-websocket', 'y-websocket-server'],
]

const fmt = (n) => (n === null || n === undefined ? 'n/a' : Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2))
const data = JSON.parse(readFileSync(process.argv[2], 'utf8'))
console.log(`| Scenario | Measure | ${COLUMNS.map((c) => c[2]).join(' | ')} | collabd / best peer |`)
console.log(`| --- | --- | ${COLUMNS.map(() => '---:').join(' | ')} | ---: |`)
for (const [label, metric, text, better] of ROWS) {
  const summary = data.summaries.find((s) => s.label === label)
  if (summary === undefined) continue
  const cell = (target, protocol) => {
    const row = summary.rows.find((r) => r.target === target && r.protocol === protocol)
    const m = row?.metrics[metric]
    if (m === undefined || m === null) return null
    return m
  }
  const cells = COLUMNS.map(([t, p]) => cell(t, p))
  const peers = cells.slice(2).map((c) => c?.[0]).filter((v) => typeof v === 'number')
  const best = peers.length === 0 ? null : better === 'lower' ? Math.min(...peers) : Math.max(...peers)
  const ours = cells.slice(0, 2).map((c) => c?.[0]).filter((v) => typeof v === 'number')
  const ratio = best === null || best === 0 || ours.length === 0 ? 'n/a' : ours.map((o) => `${(o / best).toFixed(2)}x`).join(' / ')
  const show = (c) => {
    if (c === null) return 'n/a'
    const [med, min, max] = c
    const wide = med !== 0 && (max - min) / Math.abs(med) > 0.2
    return wide ? `${fmt(med)} (${fmt(min)}–${fmt(max)})` : fmt(med)
  }
  console.log(`| ${label} | ${text} | ${cells.map(show).join(' | ')} | ${ratio} |`)
}
