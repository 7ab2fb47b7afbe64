/**
 * A private redis-server on its own port (the machine's Debian package), for tests that stop
 * and restart Redis without disturbing the shared one on 6379.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import * as net from 'node:net'
import { waitFor } from './wait.js'

export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

export class PrivateRedis {
  private proc: ChildProcess | null = null

  constructor (readonly port: number) {}

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async start (): Promise<void> {
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
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
