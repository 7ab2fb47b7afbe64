/**
 * Starting collabd for tests: in-process on port 0 (fast, lets a test look inside), or as a real
 * `collabd start` process (for signals, kill -9 and everything the CLI does).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { PassThrough } from 'node:stream'
import { createServer, createLogger, MemoryStore, type CollabServer, type DocumentStore, type Config, type Authenticator, type Authorizer } from '../../dist/index.js'
import { ROOT } from './paths.js'
import { waitFor } from './wait.js'

export { ROOT }
export const CLI = path.join(ROOT, 'dist', 'cli.js')

export interface TestServer {
  server: CollabServer
  port: number
  /** ws://127.0.0.1:port/ws */
  url: string
  httpUrl: string
  store: DocumentStore
  /** Every log line, parsed. */
  logs: Array<Record<string, unknown>>
  close (): Promise<void>
}

export interface TestServerOptions {
  config?: Partial<Config>
  store?: DocumentStore
  authenticator?: Authenticator
  authorizer?: Authorizer
  /** Environment variables for the configuration (nothing from the real environment). */
  env?: Record<string, string>
}

/** An in-process server on 127.0.0.1:0 with a memory store unless one is given. */
export async function startServer (opts: TestServerOptions = {}): Promise<TestServer> {
  const logs: Array<Record<string, unknown>> = []
  const stream = new PassThrough()
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>)
  })
  const store = opts.store ?? new MemoryStore()
  const level = opts.config?.logLevel ?? 'debug'
  const server = createServer({
    env: opts.env ?? {},
    // No Yjs warm-up: half a second of CPU per test server buys nothing here.
    config: { host: '127.0.0.1', port: 0, warmUp: false, ...opts.config, logLevel: level },
    logger: createLogger({ level, format: 'json', destination: stream }),
    store,
    ...(opts.authenticator === undefined ? {} : { authenticator: opts.authenticator }),
    ...(opts.authorizer === undefined ? {} : { authorizer: opts.authorizer }),
  })
  const { port } = await server.listen(0, '127.0.0.1')
  return {
    server,
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    httpUrl: `http://127.0.0.1:${port}`,
    store,
    logs,
    close: async () => { await server.close() },
  }
}

export function tempDir (prefix = 'collabd-test-'): { dir: string, remove (): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface ServerProcess {
  proc: ChildProcess
  port: number
  url: string
  httpUrl: string
  /** Every stdout line (JSON log lines parsed when possible). */
  lines: string[]
  stderr: string[]
  logs (): Array<Record<string, unknown>>
  /** Resolves with the exit code (or signal name) once the process is gone. */
  exited: Promise<number | string>
  stop (signal?: NodeJS.Signals): Promise<number | string>
}

/**
 * Spawns `collabd start` with PORT=0 and waits for its "listening" line.
 * @param opts.node the Node.js binary to run it with (default: the one running the tests)
 */
export async function spawnServer (env: Record<string, string>, opts: { cwd?: string, timeoutMs?: number, node?: string } = {}): Promise<ServerProcess> {
  const proc = spawn(opts.node ?? process.execPath, [CLI, 'start'], {
    // Not the repository: a developer's .env there must not leak into tests.
    cwd: opts.cwd ?? tmpdir(),
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const stderr: string[] = []
  let buffered = ''
  proc.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8')
    const parts = buffered.split('\n')
    buffered = parts.pop()!
    lines.push(...parts.filter((l) => l.trim() !== ''))
  })
  proc.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')))
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')))
  const logs = (): Array<Record<string, unknown>> => lines.flatMap((l) => {
    try { return [JSON.parse(l) as Record<string, unknown>] } catch { return [] }
  })
  let exitedEarly = false
  void exited.then(() => { exitedEarly = true })
  await waitFor(() => exitedEarly || logs().some((l) => l.msg === 'listening'), 'collabd to log "listening"', opts.timeoutMs ?? 20_000)
  if (exitedEarly) throw new Error(`collabd exited before listening:\n${lines.join('\n')}\n${stderr.join('')}`)
  const port = logs().find((l) => l.msg === 'listening')!.port as number
  return {
    proc,
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    httpUrl: `http://127.0.0.1:${port}`,
    lines,
    stderr,
    logs,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
      return await exited
    },
  }
}
