/**
 * bigdoc: a document built from 20,000 small edits (typing, with a deletion every tenth), then
 * the time until a new client has received the whole document (from opening its socket to its
 * sync step 2 in hand): warm, with the document in memory, and cold, right after a restart,
 * loaded from the store. Applying it is client work, the same whichever server sent it, and
 * in one benchmark process its cost swings with the process's JIT state; it is reported on its
 * own (clientApplyMs).
 */
import * as Y from 'yjs'
import { BenchClient } from '../client.js'
import { median } from '../stats.js'
import { DeliveryTracker } from '../tracker.js'
import { closeAll, cpuBetween, freshName, round, sleep, waitUntil, type Scenario, type ScenarioContext } from './common.js'

export interface BigdocParams {
  readonly edits: number
  readonly warmRuns: number
  readonly coldRuns: number
}

/**
 * Connects a fresh client and applies its sync step 2.
 * @returns ms until the whole document was received (the server's part), ms the client then
 *   spent applying it (the same Yjs work whichever server sent it), and the text length.
 */
async function timeSync (ctx: ScenarioContext, document: string): Promise<{ ms: number, applyMs: number, length: number, bytes: number }> {
  const doc = new Y.Doc()
  let bytes = 0
  let receivedAt = 0
  let applyMs = 0
  const client = new BenchClient({
    url: ctx.target.url(ctx.protocol, document),
    protocol: ctx.protocol,
    document,
    onUpdate: (u) => {
      const at = performance.now()
      receivedAt ||= at
      bytes += u.length
      Y.applyUpdate(doc, u)
      applyMs += performance.now() - at
    },
  })
  const start = performance.now()
  await client.connect()
  const ms = (receivedAt || performance.now()) - start
  const length = doc.getText('t').length
  client.close()
  doc.destroy()
  return { ms, applyMs, length, bytes }
}

export const bigdoc: Scenario<BigdocParams> = {
  name: 'bigdoc',
  description: 'a document of 20,000 small edits: time until a new client has all of it, warm (in memory) and cold (after a restart)',
  full: [{ edits: 20_000, warmRuns: 5, coldRuns: 3 }],
  quick: [{ edits: 2_000, warmRuns: 2, coldRuns: 1 }],
  label: (p) => `bigdoc ${p.edits} edits`,
  run: async (ctx, p) => {
    const { target, protocol, progress } = ctx
    const document = freshName('bigdoc')
    const label = bigdoc.label(p)
    progress.start(label)
    const tracker = new DeliveryTracker()
    const writer = new BenchClient({ url: target.url(protocol, document), protocol, document, writer: true })
    let lastClock = 0
    const observer = new BenchClient({ url: target.url(protocol, document), protocol, document })
    observer.onUpdate = tracker.receiver(null, (_client, clock) => { lastClock = clock })
    await observer.connect()
    await writer.connect()
    let expectedText = 0
    for (let i = 0; i < p.edits; i++) {
      writer.change((doc) => {
        const t = doc.getText('t')
        if (i % 10 === 9) t.delete(t.length - 1, 1)
        else t.insert(t.length, String.fromCharCode(97 + (i % 26)))
      })
      if (i % 200 === 199) {
        await sleep(0)
        progress.update((i / p.edits) * 0.5)
      }
    }
    expectedText = writer.doc!.getText('t').length
    const finalClock = Y.getState(writer.doc!.store, writer.clientId)
    await waitUntil(() => lastClock >= finalClock, 60_000)
    // Acknowledged means stored (collabd); give y-websocket's servers the same chance to settle.
    if (protocol === 'hocuspocus') await waitUntil(() => writer.acks >= p.edits, 60_000)
    closeAll([observer])
    const cpuBefore = target.sample()
    const warm: number[] = []
    const applies: number[] = []
    let bytes = 0
    let correct = true
    for (let i = 0; i < p.warmRuns; i++) {
      const r = await timeSync(ctx, document)
      warm.push(r.ms)
      applies.push(r.applyMs)
      bytes = r.bytes
      correct &&= r.length === expectedText
      progress.update(0.5 + (i / p.warmRuns) * 0.2)
    }
    const cpu = cpuBetween(cpuBefore, target.sample())
    closeAll([writer])
    const cold: number[] = []
    if (target.persistent) {
      for (let i = 0; i < p.coldRuns; i++) {
        await target.restart()
        const r = await timeSync(ctx, document)
        cold.push(r.ms)
        correct &&= r.length === expectedText
        progress.update(0.7 + (i / p.coldRuns) * 0.3)
      }
    }
    progress.done()
    return {
      scenario: 'bigdoc',
      label,
      params: { ...p, protocol },
      metrics: {
        warmSyncMs: round(median(warm)),
        coldSyncMs: cold.length === 0 ? null : round(median(cold)),
        clientApplyMs: round(median(applies)),
        syncBytes: bytes,
        textLength: expectedText,
        contentCorrect: correct ? 1 : 0,
        serverCpuSeconds: round(cpu, 3),
        cpuPerSyncMs: cpu === null ? null : round((cpu * 1000) / p.warmRuns),
      },
      notes: target.persistent ? [] : [`${target.label} keeps documents in memory only: nothing to load after a restart`],
    }
  },
}
