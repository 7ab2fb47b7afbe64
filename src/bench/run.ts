/**
 * Running scenarios against targets, and folding repeated runs into medians with their spread
 * and a ratio to the best peer.
 *
 * Every (scenario size, run, target, protocol) gets a fresh server process, warmed up with a
 * few seconds of typing, so no run inherits another's documents or memory, and the targets take
 * turns (A B C, A B C) so a noisy minute on the machine does not land on one target only.
 */
import type { BenchProtocol } from './client.js'
import { Progress } from './progress.js'
import { bigdoc } from './scenarios/bigdoc.js'
import { settledSample, type Scenario, type ScenarioResult } from './scenarios/common.js'
import { durable } from './scenarios/durable.js'
import { fanout } from './scenarios/fanout.js'
import { latency, runTyping, seed } from './scenarios/latency.js'
import { connections, rooms } from './scenarios/rooms.js'
import { median } from './stats.js'
import { externalTarget, protocolsOf, startTarget, type StoreKind, type Target, type TargetName } from './targets.js'

export const SCENARIOS: ReadonlyArray<Scenario<any>> = [latency, fanout, rooms, connections, bigdoc, durable, seed]

export interface TargetSpec {
  readonly name: TargetName
  readonly store?: StoreKind
  readonly postgresUrl?: string
  /** Only these scenarios (e.g. PostgreSQL for `durable` only). */
  readonly only?: readonly string[]
}

export interface RunPlan {
  readonly scenarios: readonly string[]
  readonly size: 'full' | 'quick'
  /** Servers to start, or `external` for one already running. */
  readonly targets: readonly TargetSpec[]
  readonly external?: { readonly url: string, readonly pid: number | null }
  readonly protocols?: readonly BenchProtocol[]
  readonly repeat: number
  /** Warm every server up before measuring it (default true; servers started here only). */
  readonly warmUp?: boolean
}

/**
 * A few seconds of typing on a throwaway document before a fresh server is measured, so every
 * target is measured in its steady state rather than while V8 still compiles its hot paths (in
 * a 10-second run that compilation was a tenth of the CPU, on every target alike).
 */
async function warmUp (target: Target, protocol: BenchProtocol): Promise<void> {
  await runTyping({ target, protocol, progress: new Progress(false) }, { clients: 10, rate: 50, seconds: 2 }, 'warm-up', 'warm-up')
}

export interface RunRecord extends ScenarioResult {
  readonly target: string
  readonly targetName: string
  readonly protocol: BenchProtocol
  readonly run: number
}

/** Runs the plan; `onRecord` hears each result as it completes, `onWarning` of targets skipped. */
export async function runPlan (plan: RunPlan, progress: Progress, onRecord?: (r: RunRecord) => void, onWarning?: (message: string) => void): Promise<RunRecord[]> {
  const records: RunRecord[] = []
  for (const name of plan.scenarios) {
    const scenario = SCENARIOS.find((s) => s.name === name)
    if (scenario === undefined) throw new Error(`unknown scenario "${name}"; known: ${SCENARIOS.map((s) => s.name).join(', ')}`)
    for (const params of plan.size === 'full' ? scenario.full : scenario.quick) {
      for (let run = 1; run <= plan.repeat; run++) {
        const specs: Array<TargetSpec | null> = plan.external === undefined ? [...plan.targets] : [null]
        for (const spec of specs) {
          if (spec?.only !== undefined && !spec.only.includes(name)) continue
          const protocols = (spec === null ? ['hocuspocus', 'y-websocket'] as const : protocolsOf(spec.name)).filter((protocol) =>
            (plan.protocols === undefined || plan.protocols.includes(protocol)) &&
            (scenario.protocols === undefined || scenario.protocols.includes(protocol)))
          for (const protocol of protocols) {
            const record = await runOne(plan, scenario, params, spec, protocol, run, progress, onWarning)
            if (record === null) continue
            records.push(record)
            onRecord?.(record)
          }
        }
      }
    }
  }
  return records
}

/** One scenario run on a fresh server process (or the external server). @returns null when the server would not start. */
async function runOne (plan: RunPlan, scenario: Scenario<any>, params: unknown, spec: TargetSpec | null, protocol: BenchProtocol, run: number, progress: Progress, onWarning?: (message: string) => void): Promise<RunRecord | null> {
  let target: Target
  try {
    target = spec === null
      ? externalTarget(plan.external!.url.split(','), plan.external!.pid)
      : await startTarget(spec.name, { ...(spec.store === undefined ? {} : { store: spec.store }), ...(spec.postgresUrl === undefined ? {} : { postgresUrl: spec.postgresUrl }) })
  } catch (err) {
    // One target that cannot start (a missing peer, a database that is not there) must not
    // throw away the other targets' results.
    onWarning?.(`${scenario.name}: ${spec?.name ?? 'external'}${spec?.store === undefined ? '' : ` (${spec.store})`} could not start: ${(err as Error).message.split('\n')[0]}`)
    return null
  }
  try {
    if (plan.warmUp !== false && spec !== null) await warmUp(target, protocol)
    // The warm-up's leftovers (closing sockets, a document unloading and compacting) must not
    // land on the measured run's CPU or memory.
    await settledSample(target, 10_000)
    const result = await scenario.run({ target, protocol, progress }, params)
    return { ...result, target: target.label, targetName: target.name, protocol, run }
  } finally {
    await target.stop()
  }
}

/** Which way is better for a metric, and whether it is a headline for the comparison. */
const HEADLINES: Record<string, ReadonlyArray<readonly [string, 'lower' | 'higher']>> = {
  latency: [['cpuPerDeliveryUs', 'lower'], ['p50Ms', 'lower'], ['p99Ms', 'lower']],
  seed: [['avgMs', 'lower'], ['maxMs', 'lower'], ['connectSuccessPct', 'higher']],
  fanout: [['finishMs', 'lower'], ['cpuPerDeliveryUs', 'lower'], ['p99Ms', 'lower']],
  rooms: [['kbPerConnection', 'lower'], ['afterVsIdlePct', 'lower'], ['connectPerSecond', 'higher'], ['cpuPerDeliveryUs', 'lower']],
  connections: [['kbPerConnection', 'lower'], ['held', 'higher'], ['burstP99Ms', 'lower']],
  bigdoc: [['warmSyncMs', 'lower'], ['coldSyncMs', 'lower']],
  durable: [['ackedPerSecond', 'higher'], ['ackP99Ms', 'lower'], ['cpuPerAckUs', 'lower']],
}

export interface SummaryRow {
  readonly target: string
  readonly targetName: string
  readonly protocol: BenchProtocol
  readonly runs: number
  /** metric -> [median, min, max] over runs. */
  readonly metrics: Record<string, readonly [number, number, number] | null>
}

export interface ScenarioSummary {
  readonly scenario: string
  readonly label: string
  readonly rows: readonly SummaryRow[]
  readonly headlines: ReadonlyArray<readonly [string, 'lower' | 'higher']>
  /** For each collabd row (by `target|protocol`): metric -> collabd median / best peer median. */
  readonly ratios: Record<string, Record<string, number | null>>
  readonly notes: readonly string[]
}

export function summarize (records: readonly RunRecord[]): ScenarioSummary[] {
  const labels = [...new Set(records.map((r) => r.label))]
  return labels.map((label) => {
    const forLabel = records.filter((r) => r.label === label)
    const scenario = forLabel[0]!.scenario
    const keys = [...new Set(forLabel.map((r) => `${r.target}|${r.protocol}`))]
    const rows: SummaryRow[] = keys.map((key) => {
      const runs = forLabel.filter((r) => `${r.target}|${r.protocol}` === key)
      const metrics: Record<string, readonly [number, number, number] | null> = {}
      for (const metric of Object.keys(runs[0]!.metrics)) {
        const values = runs.map((r) => r.metrics[metric]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
        metrics[metric] = values.length === 0 ? null : [median(values), Math.min(...values), Math.max(...values)]
      }
      return { target: runs[0]!.target, targetName: runs[0]!.targetName, protocol: runs[0]!.protocol, runs: runs.length, metrics }
    })
    const headlines = HEADLINES[scenario] ?? []
    const peers = rows.filter((r) => r.targetName !== 'collabd' && r.targetName !== 'external')
    const ratios: Record<string, Record<string, number | null>> = {}
    for (const row of rows.filter((r) => r.targetName === 'collabd')) {
      const byMetric: Record<string, number | null> = {}
      for (const [metric, better] of headlines) {
        const ours = row.metrics[metric]?.[0]
        const theirs = peers.map((p) => p.metrics[metric]?.[0]).filter((v): v is number => typeof v === 'number')
        const best = theirs.length === 0 ? null : better === 'lower' ? Math.min(...theirs) : Math.max(...theirs)
        byMetric[metric] = ours === undefined || best === null || best === 0 ? null : Math.round((ours / best) * 100) / 100
      }
      ratios[`${row.target}|${row.protocol}`] = byMetric
    }
    return { scenario, label, rows, headlines, ratios, notes: [...new Set(forLabel.flatMap((r) => r.notes ?? []))] }
  })
}
