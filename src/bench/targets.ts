/**
 * The servers a benchmark drives, each its own process on 127.0.0.1 so its CPU and memory can
 * be read from /proc: collabd (this package's CLI, default SQLite store unless told otherwise),
 * and, inside this repository, the peers Hocuspocus and the y-websocket reference server
 * (bench/targets/*.mjs, which need the devDependencies). Or a server already running at a URL.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BenchProtocol } from './client.js'
import { sampleProcess, type ProcessSample } from './proc.js'

export type TargetName = 'collabd' | 'hocuspocus' | 'y-websocket'
export type StoreKind = 'sqlite' | 'postgres' | 'memory'

export interface TargetOptions {
  /** collabd only: which store. Default sqlite (a fresh file per target). */
  readonly store?: StoreKind
  /** collabd only: PostgreSQL URL for store=postgres. */
  readonly postgresUrl?: string
  /** Extra environment for the server process. */
  readonly env?: Readonly<Record<string, string>>
}

export interface Target {
  readonly name: TargetName | 'external'
  /** e.g. `collabd (sqlite)`, for tables. */
  readonly label: string
  readonly protocols: readonly BenchProtocol[]
  /** Process id when we can read its /proc, else null. */
  readonly pid: number | null
  /**
   * URL a client of `protocol` opens for `document`. `client` (the client's index) spreads
   * clients over several instances when the target has more than one URL.
   */
  url (protocol: BenchProtocol, document: string, client?: number): string
  sample (): ProcessSample | null
  /** Whether documents survive `restart()` (a durable store). */
  readonly persistent: boolean
  /** Stops and starts the server again on a new port, keeping its data. */
  restart (): Promise<void>
  stop (): Promise<void>
}

const PACKAGE_ROOT = path.resolve(fileURLToPath(import.meta.url), '..', '..', '..')
const CLI = path.join(PACKAGE_ROOT, 'dist', 'cli.js')
const PEER_SCRIPTS: Record<Exclude<TargetName, 'collabd'>, string> = {
  hocuspocus: path.join(PACKAGE_ROOT, 'bench', 'targets', 'hocuspocus.mjs'),
  'y-websocket': path.join(PACKAGE_ROOT, 'bench', 'targets', 'y-websocket-server.mjs'),
}

interface Spawned {
  proc: ChildProcess
  port: number
}

/** Starts `args` with node and waits for its port on stdout (collabd's "listening" log line, or {"listening": port}). */
async function spawnServer (args: string[], env: Record<string, string>, cwd: string): Promise<Spawned> {
  const proc = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start within 30 s\n${stderr}`)), 30_000)
    const onData = (d: Buffer): void => {
      buffered += d.toString()
      for (const line of buffered.split('\n')) {
        try {
          const parsed = JSON.parse(line) as { msg?: string, port?: number, listening?: number }
          const p = parsed.msg === 'listening' ? parsed.port : parsed.listening
          if (typeof p === 'number') {
            clearTimeout(timer)
            proc.stdout!.off('data', onData)
            proc.stdout!.resume() // keep draining so the server never blocks on a full pipe
            resolve(p)
            return
          }
        } catch { /* not JSON yet */ }
      }
    }
    proc.stdout!.on('data', onData)
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${args[0]} exited with ${code} before listening\n${stderr}`))
    })
  })
  return { proc, port }
}

async function stopProcess (proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
  await exited
  clearTimeout(timer)
}

/** The protocols a target speaks. */
export function protocolsOf (name: TargetName): BenchProtocol[] {
  return name === 'collabd' ? ['hocuspocus', 'y-websocket'] : name === 'hocuspocus' ? ['hocuspocus'] : ['y-websocket']
}

/** Starts a server process for `name`. */
export async function startTarget (name: TargetName, options: TargetOptions = {}): Promise<Target> {
  const dataDir = mkdtempSync(path.join(tmpdir(), `collabd-bench-${name}-`))
  let env: Record<string, string>
  let args: string[]
  let label: string
  let protocols: BenchProtocol[]
  let persistent = false
  if (name === 'collabd') {
    const store = options.store ?? 'sqlite'
    const databaseUrl = store === 'memory' ? 'memory:' : store === 'postgres' ? options.postgresUrl ?? '' : `sqlite:${path.join(dataDir, 'collabd.sqlite')}`
    if (store === 'postgres' && databaseUrl === '') throw new Error('store=postgres needs a PostgreSQL URL (--postgres-url or DATABASE_URL)')
    env = {
      HOST: '127.0.0.1', PORT: '0', LOG_FORMAT: 'json', LOG_LEVEL: 'info', DATABASE_URL: databaseUrl,
      // Peers drop a document as soon as its last client leaves; a short delay keeps the
      // memory comparison fair.
      DOCUMENT_UNLOAD_DELAY_MS: '1000',
      ...options.env,
    }
    args = [CLI, 'start']
    label = `collabd (${store})`
    protocols = protocolsOf(name)
    persistent = store !== 'memory'
  } else {
    const script = PEER_SCRIPTS[name]
    if (!existsSync(script)) throw new Error(`the ${name} target runs from the collabd repository (${script} not found)`)
    env = { ...options.env }
    args = [script]
    label = name === 'hocuspocus' ? 'Hocuspocus' : 'y-websocket-server'
    protocols = protocolsOf(name)
  }
  let current = await spawnServer(args, env, dataDir)
  return {
    name,
    label,
    protocols,
    persistent,
    get pid () { return current.proc.pid ?? null },
    url: (protocol, document) => {
      const base = `ws://127.0.0.1:${current.port}`
      if (name === 'collabd') return protocol === 'hocuspocus' ? `${base}/ws` : `${base}/ws/${encodeURIComponent(document)}`
      return protocol === 'hocuspocus' ? base : `${base}/${encodeURIComponent(document)}`
    },
    sample: () => (current.proc.pid === undefined ? null : sampleProcess(current.proc.pid)),
    restart: async () => {
      await stopProcess(current.proc)
      current = await spawnServer(args, env, dataDir)
    },
    stop: async () => {
      await stopProcess(current.proc)
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/**
 * Servers already running at `urls` (collabd's layout: `<url>` Hocuspocus, `<url>/<doc>`
 * y-websocket). With several (instances sharing Redis), client i goes to url i mod n.
 */
export function externalTarget (urls: readonly string[], pid: number | null): Target {
  const bases = urls.map((u) => u.replace(/\/+$/, ''))
  return {
    name: 'external',
    label: bases.join(' + '),
    protocols: ['hocuspocus', 'y-websocket'],
    pid,
    persistent: false,
    url: (protocol, document, client = 0) => {
      const base = bases[client % bases.length]!
      return protocol === 'hocuspocus' ? base : `${base}/${encodeURIComponent(document)}`
    },
    sample: () => (pid === null ? null : sampleProcess(pid)),
    restart: async () => { throw new Error('cannot restart an external server') },
    stop: async () => {},
  }
}
