/**
 * Compaction's merge, off the main thread: one worker (merge-worker.ts), started on first use
 * and kept, not holding the process open while idle. The SQLite store merges in its own worker;
 * this is for stores whose I/O runs on the main thread (PostgreSQL).
 */
import { Worker } from 'node:worker_threads'
import { CorruptDocumentError } from '../errors.js'
import type { MergeRequest, MergeResponse } from './merge-worker.js'

interface Pending {
  readonly name: string
  resolve (snapshot: Uint8Array): void
  reject (err: Error): void
}

export class SnapshotMerger {
  private worker: Worker | null = null
  private readonly pending = new Map<number, Pending>()
  private nextId = 1

  /**
   * The snapshot and the log rows merged into one update.
   * @throws {CorruptDocumentError} when a stored part fails to decode.
   */
  merge (name: string, snapshot: Uint8Array | null, updates: readonly Uint8Array[]): Promise<Uint8Array> {
    const worker = this.worker ?? this.start()
    const id = this.nextId++
    const request: MergeRequest = { id, name, snapshot, updates }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { name, resolve, reject })
      worker.ref()
      worker.postMessage(request)
    })
  }

  async close (): Promise<void> {
    const worker = this.worker
    this.worker = null
    await worker?.terminate()
  }

  private start (): Worker {
    const worker = new Worker(new URL('./merge-worker.js', import.meta.url))
    worker.unref()
    worker.on('message', (res: MergeResponse) => {
      const p = this.pending.get(res.id)
      if (p === undefined) return
      this.pending.delete(res.id)
      if (this.pending.size === 0) worker.unref()
      if (res.ok) p.resolve(res.snapshot)
      else p.reject(res.corruptDetail !== null ? new CorruptDocumentError(p.name, res.corruptDetail) : new Error(res.message))
    })
    const failAll = (err: Error): void => {
      if (this.worker === worker) this.worker = null
      for (const p of this.pending.values()) p.reject(err)
      this.pending.clear()
    }
    worker.on('error', failAll)
    worker.on('exit', (code) => failAll(new Error(`snapshot merge worker exited (code ${code})`)))
    this.worker = worker
    return worker
  }
}
