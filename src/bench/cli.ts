/**
 * `collabd bench`: runs scenarios against collabd (started here, or one running at --url), or
 * with --compare against collabd, Hocuspocus and the y-websocket server side by side.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { BenchProtocol } from './client.js'
import { Progress } from './progress.js'
import { htmlReport, machine, textReport } from './report.js'
import { SCENARIOS, runPlan, summarize, type RunPlan, type TargetSpec } from './run.js'
import type { StoreKind, TargetName } from './targets.js'

const PACKAGE_ROOT = path.resolve(fileURLToPath(import.meta.url), '..', '..', '..')

export function benchHelp (): string {
  return `Usage: collabd bench [scenario ...] [options]

Scenarios (default: all):
${SCENARIOS.map((s) => `  ${s.name.padEnd(12)} ${s.description}`).join('\n')}

Options:
  --url URL           drive a collabd already running (Hocuspocus at URL, y-websocket at URL/<doc>);
                      URL,URL,... for instances sharing Redis: latency clients take turns among
                      them, so most deliveries cross instances
  --pid PID           that server's process id, to report its CPU and memory
  --target NAME       collabd | hocuspocus | y-websocket; repeatable (default collabd)
  --compare           collabd, Hocuspocus and y-websocket-server side by side, 2 runs each,
                      plus collabd on PostgreSQL for "durable" when --postgres-url is given
  --store KIND        collabd's store: sqlite (default), postgres or memory
  --postgres-url URL  PostgreSQL for --store postgres (default: DATABASE_URL)
  --protocol NAME     y-websocket | hocuspocus (default: every protocol the target speaks)
  --repeat N          runs per target and scenario size (default 1, with --compare 2)
  --quick             small sizes, seconds per scenario (smoke tests)
  --no-warm-up        measure servers cold (default: 2 s of typing on a throwaway document first)
  --json              print every run and the summary as JSON on stdout
  --html FILE         also write an HTML report with charts
The peers (hocuspocus, y-websocket) run from the collabd repository with its devDependencies.
Every server runs as its own process on 127.0.0.1; CPU and memory are read from /proc.
`
}

function versions (): Record<string, string> {
  const out: Record<string, string> = {}
  const read = (file: string): string | null => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : null)
  out.collabd = read(path.join(PACKAGE_ROOT, 'package.json')) ?? '?'
  for (const dep of ['@hocuspocus/server', '@y/websocket-server', 'yjs', 'ws', 'better-sqlite3', 'pg']) {
    const v = read(path.join(PACKAGE_ROOT, 'node_modules', dep, 'package.json'))
    if (v !== null) out[dep] = v
  }
  return out
}

/** Runs `collabd bench` with `argv` (after the word "bench"). @returns the exit code. */
export async function benchMain (argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      pid: { type: 'string' },
      target: { type: 'string', multiple: true },
      compare: { type: 'boolean' },
      store: { type: 'string' },
      'postgres-url': { type: 'string' },
      protocol: { type: 'string', multiple: true },
      repeat: { type: 'string' },
      quick: { type: 'boolean' },
      'no-warm-up': { type: 'boolean' },
      json: { type: 'boolean' },
      html: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) {
    process.stdout.write(benchHelp())
    return 0
  }
  const scenarios = positionals.length > 0 ? positionals : SCENARIOS.map((s) => s.name)
  const store = (values.store ?? 'sqlite') as StoreKind
  if (!['sqlite', 'postgres', 'memory'].includes(store)) throw new Error(`--store must be sqlite, postgres or memory, not "${store}"`)
  const postgresUrl = values['postgres-url'] ?? process.env.DATABASE_URL
  let targets: TargetSpec[]
  if (values.compare === true) {
    targets = [{ name: 'collabd', store: 'sqlite' }, { name: 'hocuspocus' }, { name: 'y-websocket' }]
    if (postgresUrl !== undefined && /^postgres/.test(postgresUrl)) targets.push({ name: 'collabd', store: 'postgres', postgresUrl, only: ['durable', 'bigdoc'] })
  } else {
    const names = (values.target ?? ['collabd']) as TargetName[]
    for (const n of names) if (!['collabd', 'hocuspocus', 'y-websocket'].includes(n)) throw new Error(`unknown --target "${n}"`)
    targets = names.map((name) => (name === 'collabd' ? { name, store, ...(postgresUrl === undefined ? {} : { postgresUrl }) } : { name }))
  }
  const plan: RunPlan = {
    scenarios,
    size: values.quick === true ? 'quick' : 'full',
    targets,
    ...(values.url === undefined ? {} : { external: { url: values.url, pid: values.pid === undefined ? null : Number(values.pid) } }),
    ...(values.protocol === undefined ? {} : { protocols: values.protocol as BenchProtocol[] }),
    warmUp: values['no-warm-up'] !== true,
    repeat: values.repeat === undefined ? (values.compare === true ? 2 : 1) : Math.max(1, Number(values.repeat)),
  }
  const progress = new Progress(values.json !== true && process.stderr.isTTY === true)
  const records = await runPlan(plan, progress, (r) => {
    if (values.json !== true) process.stderr.write(`done: ${r.label} · ${r.target} · ${r.protocol} · run ${r.run}\n`)
  }, (message) => process.stderr.write(`warning: ${message}\n`))
  const summaries = summarize(records)
  const command = `collabd bench ${argv.join(' ')}`.trim()
  if (values.json === true) {
    process.stdout.write(JSON.stringify({ command, machine: machine(), versions: versions(), summaries, runs: records.map(({ latencies, throughput, ...rest }) => rest) }, null, 2) + '\n')
  } else {
    const m = machine()
    process.stdout.write(`\n${command}\n${m.cpu}, ${m.cores} cores, Node.js ${m.node}; ${Object.entries(versions()).map(([k, v]) => `${k} ${v}`).join(', ')}\n\n${textReport(summaries)}\n`)
  }
  if (values.html !== undefined) {
    mkdirSync(path.dirname(path.resolve(values.html)), { recursive: true })
    writeFileSync(values.html, htmlReport(summaries, records, { command, versions: versions() }))
    if (values.json !== true) process.stderr.write(`wrote ${values.html}\n`)
  }
  return 0
}
