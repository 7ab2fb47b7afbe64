/**
 * The default store: SQLite through better-sqlite3, every statement run in a worker thread
 * (sqlite-worker.ts) so that commits, which wait for fsync, never block the event loop.
 *
 * This class is the main-thread side: it numbers requests, posts them, and settles promises as
 * answers arrive. If the worker dies, in-flight requests fail with StoreUnavailableError and the
 * next request starts a new worker.
 *
 * Before the first worker starts, the file is checked (sqlite-file.ts: what may be created,
 * what is refused) and a serving store takes the single-server lock (sqlite-lock.ts), held in
 * this thread until close() so a restarted worker never loses it.
 */
import { Worker } from 'node:worker_threads'
import { CorruptDocumentError, StoreUnavailableError } from '../errors.js'
import { packEntries } from './append-batch.js'
import { prepareStoreFile } from './sqlite-file.js'
import { acquireServerLock, type ServerLock } from './sqlite-lock.js'
import type { SqliteRequest, SqliteResponse, SqliteWorkerData, SerializedError } from './sqlite-worker.js'
import type { AppendEntry, CompactionResult, DocumentStore, DocumentSummary, Grant, GrantRole, ListOptions, StoreHealth, StoredDocument } from './types.js'

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
type Request = DistributiveOmit<SqliteRequest, 'id'>

interface Pending {
  resolve: (value: unknown) => void
  reject: (err: Error) => void
}

export interface SqliteStoreOptions {
  /** The database file (`:memory:` for a private in-memory database: no checks, no lock). */
  readonly path: string
  readonly synchronous: 'full' | 'normal'
  /**
   * 'serve' (default): the store a server writes to. open() takes the single-server lock (a
   * second serving store on the file, in any process, fails with StoreRefusedError `locked`)
   * and creates the file when it is missing, in a folder that must exist.
   * 'manage': for commands beside a running server (grants, export, import). No lock; the
   * file must already be a collabd store (StoreRefusedError `missing` or `not-a-store`).
   */
  readonly use?: 'serve' | 'manage'
  /** With 'serve': create the file's missing folders too. Default false. */
  readonly createFolders?: boolean
}

export class SqliteStore implements DocumentStore {
  readonly kind = 'sqlite'
  private prepared = false
  private lock: ServerLock | null = null
  private worker: Worker | null = null
  private starting: Promise<Worker> | null = null
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private closed = false

  constructor (private readonly options: SqliteStoreOptions) {}

  async open (): Promise<void> {
    await this.ensureWorker()
  }

  async load (name: string): Promise<StoredDocument | null> {
    return await this.request({ op: 'load', name }) as StoredDocument | null
  }

  async append (entries: readonly AppendEntry[]): Promise<void> {
    if (entries.length === 0) return
    const { packed, transfer } = packEntries(entries)
    await this.request({ op: 'append', entries: packed }, transfer)
  }

  async compact (name: string): Promise<CompactionResult> {
    return await this.request({ op: 'compact', name }) as CompactionResult
  }

  async delete (name: string): Promise<boolean> {
    return await this.request({ op: 'delete', name }) as boolean
  }

  async listGrants (document: string): Promise<Grant[]> {
    return await this.request({ op: 'listGrants', document }) as Grant[]
  }

  async grant (document: string, userId: string, role: GrantRole): Promise<void> {
    await this.request({ op: 'grant', document, userId, role })
  }

  async revoke (document: string, userId: string): Promise<boolean> {
    return await this.request({ op: 'revoke', document, userId }) as boolean
  }

  async claimOwnership (document: string, userId: string): Promise<boolean> {
    return await this.request({ op: 'claimOwnership', document, userId }) as boolean
  }

  async list (options: ListOptions = {}): Promise<DocumentSummary[]> {
    return await this.request({ op: 'list', options }) as DocumentSummary[]
  }

  async health (): Promise<StoreHealth> {
    const start = performance.now()
    try {
      await this.request({ op: 'ping' })
      return { connected: true, latencyMs: Math.round((performance.now() - start) * 100) / 100 }
    } catch {
      return { connected: false, latencyMs: null, error: 'SQLite store unavailable' }
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    const worker = this.worker
    try {
      if (worker === null) return
      await this.send(worker, { op: 'close' })
    } finally {
      await worker?.terminate()
      this.worker = null
      // Last: the file is closed before another server may take it.
      this.lock?.release()
      this.lock = null
    }
  }

  private async request (req: Request, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.closed) throw new StoreUnavailableError('SQLite store is closed')
    const worker = await this.ensureWorker()
    return await this.send(worker, req, transfer)
  }

  private send (worker: Worker, req: Request, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      worker.postMessage({ ...req, id }, transfer)
    })
  }

  private ensureWorker (): Promise<Worker> {
    if (this.worker !== null) return Promise.resolve(this.worker)
    if (this.starting !== null) return this.starting
    try {
      this.prepare()
    } catch (err) {
      return Promise.reject(err)
    }
    const workerData: SqliteWorkerData = { path: this.options.path, synchronous: this.options.synchronous, fileMustExist: this.options.use === 'manage' }
    const worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData })
    worker.on('message', (res: SqliteResponse) => {
      const p = this.pending.get(res.id)
      if (p === undefined) return
      this.pending.delete(res.id)
      if (res.ok) p.resolve(res.value)
      else p.reject(deserialize(res.error))
    })
    const fail = (err: Error): void => {
      if (this.worker === worker) this.worker = null
      const error = new StoreUnavailableError('SQLite worker stopped', err)
      for (const p of this.pending.values()) p.reject(error)
      this.pending.clear()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => { if (!this.closed) fail(new Error(`worker exited with code ${code}`)) })
    this.starting = this.send(worker, { op: 'open' }).then(
      () => { this.worker = worker; this.starting = null; return worker },
      async (err: unknown) => { this.starting = null; await worker.terminate(); throw err },
    )
    return this.starting
  }

  /** Once, before the first worker: the file rules, then the lock. */
  private prepare (): void {
    if (this.prepared || this.options.path === ':memory:') return
    const use = this.options.use ?? 'serve'
    prepareStoreFile(this.options.path, { use, createFolders: this.options.createFolders === true })
    if (use === 'serve') this.lock = acquireServerLock(this.options.path)
    this.prepared = true
  }
}

function deserialize (e: SerializedError): Error {
  if (e.corrupt !== null) return new CorruptDocumentError(e.corrupt.documentName, e.corrupt.detail)
  if (e.code !== null && e.code.startsWith('SQLITE_')) return new StoreUnavailableError(`SQLite: ${e.message} (${e.code})`)
  const err = new Error(e.message)
  err.name = e.name
  return err
}
