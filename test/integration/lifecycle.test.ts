/**
 * Documents in memory: one load for concurrent first joins, kept while used, unloaded (with a
 * final compaction) after the grace period, and nothing left behind, down to the memory.
 */
import { spawn } from 'node:child_process'
import * as path from 'node:path'
import * as v8 from 'node:v8'
import * as vm from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryStore, SqliteStore } from '../../dist/index.js'
import { destroyClients, hocus, synced, text, yws } from '../helpers/clients.js'
import { GatedStore } from '../helpers/gated-store.js'
import { ROOT, startServer, tempDir, type TestServer } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

let t: TestServer | null = null
const dirs: Array<{ remove (): void }> = []
afterEach(async () => {
  destroyClients()
  await t?.close()
  t = null
  for (const d of dirs.splice(0)) d.remove()
})

const idle = (s: TestServer): boolean => Object.values(s.server.registry.internals()).every((n) => n === 0)

describe('document lifecycle', () => {
  it('shares one load between concurrent first connections of both protocols', async () => {
    const store = new GatedStore(new MemoryStore())
    store.loadDelayMs = 200
    t = await startServer({ store })
    const clients = [yws(t.url, 'shared'), hocus(t.url, 'shared'), yws(t.url, 'shared'), hocus(t.url, 'shared')]
    for (const c of clients) await synced(c.provider)
    expect(store.loads).toBe(1)
    expect(t.server.registry.get('shared')!.members.size).toBe(4)
  })

  it('unloads after the grace period with a final compaction, and leaves nothing behind', async () => {
    const store = new GatedStore(new MemoryStore())
    t = await startServer({ store, config: { documentUnloadDelayMs: 150 } })
    const a = hocus(t.url, 'unload-me')
    await synced(a.provider)
    for (let i = 0; i < 20; i++) a.doc.getText('t').insert(0, 'x')
    await waitFor(() => a.provider.unsyncedChanges === 0, 'edits acknowledged')
    expect((await store.inner.load('unload-me'))!.updates.length).toBeGreaterThan(0)
    const unloaded = new Promise((resolve) => t!.server.once('document-unloaded', resolve))
    a.provider.destroy()
    await unloaded
    expect(idle(t)).toBe(true)
    const stored = await store.inner.load('unload-me')
    expect(stored!.updates).toHaveLength(0)
    expect(stored!.snapshot).not.toBeNull()
    // And it comes back from the snapshot.
    const b = yws(t.url, 'unload-me')
    await synced(b.provider)
    expect(text(b.doc)).toBe('x'.repeat(20))
  })

  it('survives event listeners that throw', async () => {
    t = await startServer({ config: { documentUnloadDelayMs: 50 } })
    t.server.on('document-loaded', () => { throw new Error('listener bug') })
    t.server.on('document-unloaded', () => { throw new Error('listener bug') })
    t.server.on('connect', () => { throw new Error('listener bug') })
    const a = yws(t.url, 'throwing-listeners')
    await synced(a.provider)
    a.doc.getText('t').insert(0, 'still works')
    await waitFor(() => t!.server.registry.get('throwing-listeners')?.doc.getText('t').toString() === 'still works', 'the edit to arrive')
    destroyClients()
    await waitFor(() => idle(t!), 'the document to unload despite the listener')
    expect(t.logs.filter((l) => l.msg === 'event listener threw')).toHaveLength(3)
  })

  it('keeps the document when a client returns within the grace period', async () => {
    const store = new GatedStore(new MemoryStore())
    t = await startServer({ store, config: { documentUnloadDelayMs: 500 } })
    const a = yws(t.url, 'come-back')
    await synced(a.provider)
    a.provider.disconnect()
    await waitFor(() => t!.server.registry.get('come-back')?.members.size === 0, 'the room to empty')
    a.provider.connect()
    await synced(a.provider)
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(t.server.registry.get('come-back')).toBeDefined()
    expect(store.loads).toBe(1)
  })

  it('returns the server\'s memory near its baseline after many documents come and go', async () => {
    const tmp = tempDir()
    dirs.push(tmp)
    // SQLite keeps stored data in its worker, so this heap holds only what is in memory; the
    // clients run in another process; logging at warn keeps the harness' log array small.
    t = await startServer({ store: new SqliteStore({ path: path.join(tmp.dir, 'm.sqlite'), synchronous: 'normal' }), config: { documentUnloadDelayMs: 50, logLevel: 'warn' } })
    const server = t
    const DOCS = 100
    const BYTES = 10_000
    let peak = 0
    const cycle = async (round: number): Promise<void> => {
      const child = spawn(process.execPath, [path.join(ROOT, 'test', 'helpers', 'churn-clients.mjs'), server.url, `churn-${round}`, String(DOCS), String(BYTES)], { stdio: ['pipe', 'pipe', 'inherit'] })
      const exited = new Promise((resolve) => child.on('exit', resolve))
      let out = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString() })
      await waitFor(() => out.includes('ready'), 'the client process to be ready', 20_000)
      await waitFor(() => [...Array(DOCS).keys()].every((i) => server.server.registry.get(`churn-${round}-${i}`)?.doc.getText('t').length === BYTES), 'every document to hold its content')
      gc()
      peak = Math.max(peak, process.memoryUsage().heapUsed)
      child.stdin.write('close\n')
      await exited
      await waitFor(() => idle(server) && server.server.activeConnections === 0, 'every document unloaded and every connection gone', 20_000)
    }
    // Warm up: the JIT keeps compiling code for a few rounds, and compiled code lives on the
    // heap too (a heap-snapshot diff over ten more rounds showed only code objects growing).
    await cycle(0)
    await cycle(1)
    gc()
    const baseline = process.memoryUsage().heapUsed
    for (let round = 2; round <= 4; round++) await cycle(round)
    gc()
    const grown = process.memoryUsage().heapUsed - baseline
    // With 100 documents of 10 KB loaded the heap is over a megabyte above the baseline. After
    // 300 came and went, leaking their rooms would leave 3 MB or more; what stays is JIT code.
    expect(peak - baseline).toBeGreaterThan(DOCS * BYTES)
    expect(grown).toBeLessThan(1024 * 1024)
  })
})
