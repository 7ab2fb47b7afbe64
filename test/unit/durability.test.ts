/**
 * The group-commit queue (src/documents/durability.ts): what goes into one write, when a target
 * hears that its updates are durable, and what happens while the store fails. The store is the
 * real MemoryStore behind a gate the test opens or fails write by write (a stand-in for our own
 * DocumentStore interface, not for a database); timers are vitest's fake ones where a test
 * measures delays, so nothing here sleeps.
 */
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Durability, type DurabilityOptions, type DurableTarget } from '../../src/documents/durability.js'
import { createLogger, silentLogger } from '../../src/log.js'
import { MemoryStore } from '../../src/storage/memory.js'
import type { AppendEntry } from '../../src/storage/types.js'

interface Write {
  readonly entries: AppendEntry[]
  /** Stores the entries in the MemoryStore, then resolves the write. */
  succeed (): Promise<void>
  fail (err?: Error): Promise<void>
}

/** A MemoryStore whose writes wait until the test settles them, one by one, in order. */
class GatedMemoryStore extends MemoryStore {
  /** Every append call, settled or not. */
  readonly writes: Write[] = []
  private settled = 0

  override append (entries: readonly AppendEntry[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const copy = [...entries]
      this.writes.push({
        entries: copy,
        succeed: async () => { await super.append(copy); resolve(); await flushed() },
        fail: async (err = new Error('store unavailable')) => { reject(err); await flushed() },
      })
    })
  }

  /** The oldest write not settled yet; fails the test when there is none. */
  next (): Write {
    const w = this.writes[this.settled]
    if (w === undefined) throw new Error(`expected write ${this.settled + 1} to have been sent; ${this.writes.length} were`)
    this.settled++
    return w
  }

  /** Updates stored for `document`, as text. */
  async stored (document: string): Promise<string[]> {
    return ((await this.load(document))?.updates ?? []).map((u) => Buffer.from(u).toString())
  }
}

/** A target recording every `committed(seq)` call. */
class Target implements DurableTarget {
  readonly commits: number[] = []
  committed (seq: number): void { this.commits.push(seq) }
}

/** Lets promise callbacks and the queue's setImmediate run (works with fake timers too). */
async function flushed (): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await Promise.resolve()
    if (vi.isFakeTimers()) await vi.advanceTimersByTimeAsync(0)
    else await new Promise((resolve) => setImmediate(resolve))
  }
}

const bytes = (s: string): Uint8Array => Buffer.from(s)
const texts = (w: Write): string[] => w.entries.map((e) => Buffer.from(e.update).toString())

function queue (options: Partial<DurabilityOptions> = {}, log = silentLogger()): { store: GatedMemoryStore, durability: Durability } {
  const store = new GatedMemoryStore()
  return { store, durability: new Durability(store, log, { maxPendingBytes: 64 * 1024 * 1024, commitIntervalMs: 0, ...options }) }
}

afterEach(() => { vi.useRealTimers() })

describe('group commit', () => {
  it('sends the updates appended in one turn as one write, and those arriving during it as the next write', async () => {
    const { store, durability } = queue()
    const a = new Target()
    const b = new Target()
    durability.append(a, 1, 'doc-a', bytes('a1'), 'ann')
    durability.append(b, 1, 'doc-b', bytes('b1'), null)
    durability.append(a, 2, 'doc-a', bytes('a2'), 'ann')
    expect(store.writes).toHaveLength(0) // not before the turn ends: the rest of the turn joins
    await flushed()
    expect(store.writes).toHaveLength(1)
    const first = store.writes[0]!
    expect(first.entries).toEqual([
      { document: 'doc-a', update: bytes('a1'), userId: 'ann' },
      { document: 'doc-b', update: bytes('b1'), userId: null },
      { document: 'doc-a', update: bytes('a2'), userId: 'ann' },
    ])

    durability.append(b, 2, 'doc-b', bytes('b2'), null)
    durability.append(b, 3, 'doc-b', bytes('b3'), null)
    await flushed()
    expect(store.writes).toHaveLength(1) // one write at a time
    await store.next().succeed()
    expect(store.writes).toHaveLength(2)
    expect(texts(store.next())).toEqual(['b2', 'b3'])
  })

  it('acknowledges only once the store has committed, telling each target its highest sequence number', async () => {
    const { store, durability } = queue()
    const a = new Target()
    const b = new Target()
    durability.append(a, 1, 'doc-a', bytes('a1'), null)
    durability.append(a, 2, 'doc-a', bytes('a2'), null)
    durability.append(b, 7, 'doc-b', bytes('b7'), null)
    durability.append(a, 3, 'doc-a', bytes('a3'), null)
    await flushed()
    expect(store.writes).toHaveLength(1)
    expect(a.commits).toEqual([]) // sent, not yet committed
    expect(b.commits).toEqual([])
    expect(durability.pendingUpdates).toBe(4)

    await store.next().succeed()
    // One call per run of a target in the batch (a1 a2 | b7 | a3), increasing.
    expect(a.commits).toEqual([2, 3])
    expect(b.commits).toEqual([7])
    expect(durability.pendingUpdates).toBe(0)
    expect(await store.stored('doc-a')).toEqual(['a1', 'a2', 'a3'])
  })

  it('tells the other targets of their commit when one target throws', async () => {
    const { store, durability } = queue()
    const bad: DurableTarget = { committed: () => { throw new Error('room gone') } }
    const good = new Target()
    durability.append(bad, 1, 'doc-a', bytes('a1'), null)
    durability.append(good, 1, 'doc-b', bytes('b1'), null)
    await flushed()
    await store.next().succeed()
    expect(good.commits).toEqual([1])
  })

  it('waits commitIntervalMs from the start of one write to the start of the next', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance', 'Date'] })
    const { store, durability } = queue({ commitIntervalMs: 20 })
    const t = new Target()
    durability.append(t, 1, 'd', bytes('1'), null)
    await flushed()
    expect(store.writes).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(5)
    await store.next().succeed()
    durability.append(t, 2, 'd', bytes('2'), null)
    await vi.advanceTimersByTimeAsync(14) // 19 ms after the first write started
    expect(store.writes).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(store.writes).toHaveLength(2)
    expect(texts(store.next())).toEqual(['2'])
  })
})

describe('batch bounds', () => {
  it('takes at most maxBatchUpdates entries a write, in order', async () => {
    const { store, durability } = queue({ maxBatchUpdates: 3 })
    const t = new Target()
    for (let i = 1; i <= 7; i++) durability.append(t, i, 'd', bytes(String(i)), null)
    await flushed()
    const sizes: string[][] = []
    while (store.writes.length > sizes.length) {
      const w = store.next()
      sizes.push(texts(w))
      await w.succeed()
    }
    expect(sizes).toEqual([['1', '2', '3'], ['4', '5', '6'], ['7']])
    expect(t.commits).toEqual([3, 6, 7])
  })

  it('takes at most maxBatchBytes a write, and an update larger than that alone', async () => {
    const { store, durability } = queue({ maxBatchBytes: 10 })
    const t = new Target()
    for (const [i, s] of ['aaaa', 'bbbb', 'cccc', 'x'.repeat(25), 'd'].entries()) durability.append(t, i + 1, 'd', bytes(s), null)
    await flushed()
    const batches: string[][] = []
    while (store.writes.length > batches.length) {
      const w = store.next()
      batches.push(texts(w))
      await w.succeed()
    }
    expect(batches).toEqual([['aaaa', 'bbbb'], ['cccc'], ['x'.repeat(25)], ['d']])
    expect(durability.pendingBytes).toBe(0)
  })
})

describe('while the store fails', () => {
  it('retries the same entries with doubling backoff up to retryMaxMs, acknowledging nothing until a write succeeds', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance', 'Date'] })
    const { store, durability } = queue({ retryMinMs: 100, retryMaxMs: 400 })
    const t = new Target()
    durability.append(t, 1, 'd', bytes('one'), 'ann')
    durability.append(t, 2, 'd', bytes('two'), 'ann')
    await flushed()
    const original = store.writes[0]!.entries
    const outage = new Error('connection refused')
    await store.next().fail(outage)
    expect(durability.failure).toBe(outage)

    // Gaps from each failure to the next attempt: 100, 200, 400, then capped at 400.
    for (const gap of [100, 200, 400, 400]) {
      const before = store.writes.length
      await vi.advanceTimersByTimeAsync(gap - 1)
      expect(store.writes.length, `no retry before ${gap} ms`).toBe(before)
      await vi.advanceTimersByTimeAsync(1)
      expect(store.writes.length, `a retry after ${gap} ms`).toBe(before + 1)
      const retry = store.next()
      expect(retry.entries).toEqual(original) // the same entries, in the same order
      await retry.fail(outage)
      expect(t.commits).toEqual([])
      expect(durability.pendingUpdates).toBe(2)
    }

    // Appended during the outage: queued behind the unacknowledged ones, not ahead of them.
    durability.append(t, 3, 'd', bytes('three'), 'ann')
    await flushed()
    expect(store.writes.length).toBe(5) // waits for the retry timer, no extra write
    await vi.advanceTimersByTimeAsync(400)
    const recovered = store.next()
    expect(texts(recovered)).toEqual(['one', 'two', 'three'])
    await recovered.succeed()
    expect(t.commits).toEqual([3])
    expect(durability.failure).toBeNull()
    expect(await store.stored('d')).toEqual(['one', 'two', 'three']) // each once, in order
  })

  it('starts the backoff again at retryMinMs after a write succeeded', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance', 'Date'] })
    const { store, durability } = queue({ retryMinMs: 100, retryMaxMs: 1000 })
    const t = new Target()
    durability.append(t, 1, 'd', bytes('1'), null)
    await flushed()
    await store.next().fail()
    await vi.advanceTimersByTimeAsync(100)
    await store.next().fail()
    await vi.advanceTimersByTimeAsync(200)
    await store.next().succeed()
    durability.append(t, 2, 'd', bytes('2'), null)
    await flushed()
    await store.next().fail()
    await vi.advanceTimersByTimeAsync(99)
    expect(store.writes).toHaveLength(4)
    await vi.advanceTimersByTimeAsync(1)
    expect(store.writes).toHaveLength(5)
  })

  it('logs the outage once, not every retry, and its end once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance', 'Date'] })
    const lines: Array<{ level: string, msg: string }> = []
    const destination = new Writable({
      write (chunk: Buffer, _encoding, done) {
        for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as { level: string, msg: string })
        done()
      },
    })
    const { store, durability } = queue({ retryMinMs: 10, retryMaxMs: 10 }, createLogger({ level: 'info', format: 'json', destination }))
    durability.append(new Target(), 1, 'd', bytes('1'), null)
    await flushed()
    for (let i = 0; i < 5; i++) {
      await store.next().fail()
      await vi.advanceTimersByTimeAsync(10)
    }
    await store.next().succeed()
    expect(lines.map((l) => `${l.level} ${l.msg}`)).toEqual([
      'error store write failed; updates stay queued and unacknowledged, retrying',
      'info store writes recovered',
    ])
  })

  it('is overloaded while more than maxPendingBytes wait, and not once they are written', async () => {
    const { store, durability } = queue({ maxPendingBytes: 10 })
    const t = new Target()
    durability.append(t, 1, 'd', bytes('12345'), null)
    durability.append(t, 2, 'd', bytes('12345'), null)
    expect(durability.pendingBytes).toBe(10)
    expect(durability.overloaded).toBe(false) // at the limit is still accepted
    await flushed()
    await store.next().fail()
    durability.append(t, 3, 'd', bytes('1'), null)
    expect(durability.overloaded).toBe(true) // in-flight and failed bytes count until written
    await flushed()
    await vi.waitFor(() => { expect(store.writes.length).toBe(2) }, { timeout: 1000, interval: 5 })
    await store.next().succeed()
    expect(durability.pendingBytes).toBe(0)
    expect(durability.overloaded).toBe(false)
  })

  it('stops for good on stop(): no retry, entries stay unacknowledged', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance', 'Date'] })
    const { store, durability } = queue({ retryMinMs: 10, retryMaxMs: 10 })
    const t = new Target()
    durability.append(t, 1, 'd', bytes('1'), null)
    await flushed()
    await store.next().fail()
    durability.stop()
    durability.append(t, 2, 'd', bytes('2'), null)
    await vi.advanceTimersByTimeAsync(1000)
    expect(store.writes).toHaveLength(1)
    expect(t.commits).toEqual([])
    expect(durability.pendingUpdates).toBe(2)
  })
})

describe('drain', () => {
  it('resolves at once with nothing queued, and otherwise once everything queued before and during the wait is durable', async () => {
    const { store, durability } = queue()
    await durability.drain()
    const t = new Target()
    durability.append(t, 1, 'd', bytes('1'), null)
    let drained = false
    const waiting = durability.drain().then(() => { drained = true })
    await flushed()
    durability.append(t, 2, 'd', bytes('2'), null) // during the wait
    await store.next().succeed()
    expect(drained).toBe(false) // '2' is not durable yet
    await store.next().fail()
    await vi.waitFor(() => { expect(store.writes.length).toBe(3) }, { timeout: 1000, interval: 5 })
    expect(drained).toBe(false)
    await store.next().succeed()
    await waiting
    expect(t.commits).toEqual([1, 2])
  })
})
