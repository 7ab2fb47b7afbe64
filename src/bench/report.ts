/**
 * Presenting results: a text table per scenario (medians with their spread, and collabd's
 * ratio to the best peer), and a self-contained HTML page with SVG charts of the latency
 * distribution and throughput over time. No chart library: two small SVG plotters.
 */
import * as os from 'node:os'
import type { RunRecord, ScenarioSummary } from './run.js'
import { percentile } from './stats.js'

const METRIC_NAMES: Record<string, string> = {
  p50Ms: 'p50 ms', p95Ms: 'p95 ms', p99Ms: 'p99 ms', maxMs: 'max ms', avgMs: 'avg ms',
  deliveriesPerSecond: 'deliveries/s', lost: 'lost', cpuPerDeliveryUs: 'CPU µs/delivery', serverCpuSeconds: 'server CPU s',
  finishMs: 'finish ms', deliveries: 'deliveries', connectPerSecond: 'connects/s', rssIdleMB: 'RSS idle MB',
  rssConnectedMB: 'RSS connected MB', rssAfterMB: 'RSS after MB', afterVsIdlePct: 'after vs idle %',
  kbPerConnection: 'KB/connection', kbPerDocument: 'KB/document', held: 'held', burstP50Ms: 'burst p50 ms',
  burstP99Ms: 'burst p99 ms', warmSyncMs: 'warm sync ms', coldSyncMs: 'cold sync ms', ackedPerSecond: 'acked/s',
  ackP50Ms: 'ack p50 ms', ackP99Ms: 'ack p99 ms', cpuPerAckUs: 'CPU µs/ack', connectSuccessPct: 'connected %',
  rssBeforeMB: 'RSS before MB', rssAfterMB2: 'RSS after MB', syncBytes: 'sync bytes',
}

/** Metrics shown in tables, per scenario, in order (all metrics go to JSON). */
const SHOWN: Record<string, readonly string[]> = {
  latency: ['p50Ms', 'p95Ms', 'p99Ms', 'maxMs', 'deliveriesPerSecond', 'lost', 'cpuPerDeliveryUs'],
  seed: ['avgMs', 'maxMs', 'connectSuccessPct', 'lost', 'rssBeforeMB', 'rssAfterMB', 'cpuPerDeliveryUs'],
  fanout: ['finishMs', 'deliveriesPerSecond', 'p50Ms', 'p99Ms', 'lost', 'cpuPerDeliveryUs'],
  rooms: ['connectPerSecond', 'rssIdleMB', 'rssConnectedMB', 'rssAfterMB', 'afterVsIdlePct', 'kbPerConnection', 'kbPerDocument', 'cpuPerDeliveryUs'],
  connections: ['held', 'connectPerSecond', 'rssConnectedMB', 'kbPerConnection', 'burstP50Ms', 'burstP99Ms', 'burstLost', 'cpuPerDeliveryUs'],
  bigdoc: ['warmSyncMs', 'coldSyncMs', 'syncBytes', 'contentCorrect'],
  durable: ['ackedPerSecond', 'ackP50Ms', 'ackP99Ms', 'cpuPerAckUs'],
}

const name = (metric: string): string => METRIC_NAMES[metric] ?? metric

function fmt (v: number): string {
  if (!Number.isFinite(v)) return '-'
  if (Number.isInteger(v)) return v.toLocaleString('en-US')
  const abs = Math.abs(v)
  if (abs >= 1000) return Math.round(v).toLocaleString('en-US')
  if (abs >= 100) return v.toFixed(0)
  if (abs >= 10) return v.toFixed(1)
  return v.toFixed(2)
}

function cell (m: readonly [number, number, number] | null | undefined, runs: number): string {
  if (m === null || m === undefined) return 'n/a'
  return runs > 1 && m[1] !== m[2] ? `${fmt(m[0])} (${fmt(m[1])}–${fmt(m[2])})` : fmt(m[0])
}

function renderTable (head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** Rows of one scenario's table: header and cells (median, with min–max when runs differ). */
function tableRows (s: ScenarioSummary): { head: string[], rows: string[][] } {
  const metrics = SHOWN[s.scenario] ?? Object.keys(s.rows[0]?.metrics ?? {})
  const head = ['target', 'protocol', ...metrics.map(name)]
  const rows = s.rows.map((r) => [r.target, r.protocol, ...metrics.map((m) => cell(r.metrics[m], r.runs))])
  for (const [key, ratios] of Object.entries(s.ratios)) {
    if (Object.values(ratios).every((v) => v === null)) continue
    const [target, protocol] = key.split('|')
    rows.push([`${target} / best peer`, protocol!, ...metrics.map((m) => (ratios[m] === undefined || ratios[m] === null ? '' : `${ratios[m]!.toFixed(2)}x`))])
  }
  return { head, rows }
}

export function textReport (summaries: readonly ScenarioSummary[]): string {
  return summaries.map((s) => {
    const { head, rows } = tableRows(s)
    const notes = s.notes.map((n) => `  note: ${n}`).join('\n')
    return `${s.label}\n${renderTable(head, rows)}${notes === '' ? '' : `\n${notes}`}`
  }).join('\n\n')
}

export function machine (): Record<string, string | number> {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGB: Math.round(os.totalmem() / 1024 ** 3),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
  }
}

// --- HTML ------------------------------------------------------------------------------------

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2']
const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)

interface Series { name: string, points: ReadonlyArray<readonly [number, number]> }

/** A line chart; `logX` for latency distributions that span orders of magnitude. */
function lineChart (title: string, series: readonly Series[], xLabel: string, yLabel: string, logX = false): string {
  const W = 560
  const H = 300
  const L = 60
  const R = 150
  const T = 30
  const B = 45
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logX || x > 0))
  if (all.length === 0) return ''
  const tx = (x: number): number => (logX ? Math.log10(x) : x)
  const xs = all.map(([x]) => tx(x))
  const minX = Math.min(...xs)
  const maxX = Math.max(...xs) === minX ? minX + 1 : Math.max(...xs)
  const maxY = Math.max(...all.map(([, y]) => y)) || 1
  const px = (x: number): number => L + ((tx(x) - minX) / (maxX - minX)) * (W - L - R)
  const py = (y: number): number => T + (1 - y / maxY) * (H - T - B)
  const ticks = logX
    ? Array.from({ length: Math.floor(maxX) - Math.ceil(minX) + 1 }, (_, i) => 10 ** (Math.ceil(minX) + i))
    : Array.from({ length: 5 }, (_, i) => minX + ((maxX - minX) * i) / 4)
  const grid = ticks.map((t) => `<line x1="${px(t)}" y1="${T}" x2="${px(t)}" y2="${H - B}" stroke="#eee"/><text x="${px(t)}" y="${H - B + 15}" font-size="10" text-anchor="middle">${fmt(t)}</text>`).join('')
  const yTicks = Array.from({ length: 5 }, (_, i) => (maxY * i) / 4).map((t) => `<line x1="${L}" y1="${py(t)}" x2="${W - R}" y2="${py(t)}" stroke="#eee"/><text x="${L - 5}" y="${py(t) + 3}" font-size="10" text-anchor="end">${fmt(t)}</text>`).join('')
  const lines = series.map((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logX || x > 0))
    return `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5" points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>` +
      `<rect x="${W - R + 10}" y="${T + i * 16}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${W - R + 25}" y="${T + i * 16 + 9}" font-size="11">${esc(s.name)}</text>`
  }).join('')
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif">${grid}${yTicks}<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>${lines}<text x="${(L + W - R) / 2}" y="${H - 8}" font-size="11" text-anchor="middle">${esc(xLabel)}</text><text x="14" y="${(T + H - B) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 14 ${(T + H - B) / 2})">${esc(yLabel)}</text></svg></figure>`
}

/** Latency distribution as a CDF: for each percentile 0..100, the latency at it. */
function cdf (latencies: ArrayLike<number>): Array<[number, number]> {
  const sorted = Float64Array.from(latencies).sort()
  if (sorted.length === 0) return []
  return Array.from({ length: 101 }, (_, i) => [Math.max(percentile(sorted, i / 100), 0.01), i] as [number, number])
}

export function htmlReport (summaries: readonly ScenarioSummary[], records: readonly RunRecord[], meta: { command: string, versions: Record<string, string> }): string {
  const sections = summaries.map((s) => {
    const { head, rows } = tableRows(s)
    const table = `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`
    // Charts from each target/protocol's first run.
    const firsts = records.filter((r) => r.label === s.label && r.run === 1)
    const latency = lineChart(`${s.label}: latency distribution`, firsts.filter((r) => (r.latencies?.length ?? 0) > 0).map((r) => ({ name: `${r.target} ${r.protocol}`, points: cdf(r.latencies!) })), 'latency ms (log scale)', 'percentile', true)
    const throughput = lineChart(`${s.label}: deliveries over time`, firsts.filter((r) => (r.throughput?.length ?? 0) > 1).map((r) => ({ name: `${r.target} ${r.protocol}`, points: r.throughput! })), 'seconds', 'deliveries per second')
    return `<section><h2>${esc(s.label)}</h2>${table}${s.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('')}<div class="charts">${latency}${throughput}</div></section>`
  }).join('\n')
  const m = machine()
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>collabd benchmark</title><style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1300px;color:#111}table{border-collapse:collapse;font-size:13px;margin:.5rem 0}
td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:right}td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}
tr:has(td:first-child:not(:empty)) td{white-space:nowrap}.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{font-size:13px;font-weight:600}.note{color:#666;font-size:13px}code{background:#f4f4f4;padding:2px 4px}
</style></head><body><h1>collabd benchmark</h1>
<p>Command: <code>${esc(meta.command)}</code><br>Machine: ${esc(`${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB, ${m.os}, Node.js ${m.node}`)}<br>Versions: ${esc(Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', '))}<br>Generated ${esc(new Date().toISOString())}. Medians over runs, (min–max) when runs differ; ratios are collabd / best peer on the median.</p>
${sections}</body></html>`
}
