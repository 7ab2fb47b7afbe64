/**
 * Redis for tests: the shared server (TEST_REDIS_URL, default redis://127.0.0.1:6379) that every
 * test machine runs, and a private redis-server on its own port (the machine's Debian package;
 * test/helpers/programs.ts finds it) for tests that stop and restart Redis without disturbing
 * the shared one.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import * as net from 'node:net'
import { waitFor } from './wait.js'

export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

const shared = new URL(SHARED_REDIS_URL)
/** Where the shared Redis listens, for a test proxy in front of it. */
export const SHARED_REDIS_ADDRESS = { host: shared.hostname === '' ? '127.0.0.1' : shared.hostname.replace(/^\[|\]$/g, ''), port: Number(shared.port === '' ? 6379 : shared.port) }

/** SHARED_REDIS_URL (credentials and database included) reached through a proxy on 127.0.0.1:`port`. */
export function sharedRedisThrough (port: number): string {
  const url = new URL(SHARED_REDIS_URL)
  url.hostname = '127.0.0.1'
  url.port = String(port)
  return url.toString()
}

export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

export class PrivateRedis {
  private proc: ChildProcess | null = null

  /** @param program the redis-server to run (requireProgram(ctx, 'redis-server')). */
  constructor (readonly port: number, private readonly program: string) {}

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async start (): Promise<void> {
    const proc = spawn(this.program, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    this.proc = proc
    let failed: Error | null = null
    proc.on('error', (err) => { failed = err })
    await waitFor(async () => {
      if (failed !== null) throw failed
      return await new Promise<boolean>((resolve) => {
        const s = net.connect(this.port, '127.0.0.1', () => { s.destroy(); resolve(true) })
        s.on('error', () => resolve(false))
      })
    }, `redis-server on port ${this.port} to accept connections`, 10_000, 50)
  }

  /** Kills it without a goodbye, as a crash or a restart would. */
  async kill (): Promise<void> {
    const proc = this.proc
    if (proc === null || proc.exitCode !== null) return
    this.proc = null
    await new Promise((resolve) => { proc.once('exit', resolve); proc.kill('SIGKILL') })
  }
}
