/**
 * A TCP load balancer for tests, standing in for nginx or a cloud load balancer: each new
 * connection goes to the next backend in turn, skipping any that refuses it, so a client whose
 * instance died reconnects to another, as it would in production.
 */
import * as net from 'node:net'

export class Balancer {
  private server: net.Server | null = null
  private readonly sockets = new Set<net.Socket>()
  private readonly pairs = new Set<[net.Socket, net.Socket]>()
  private next = 0
  private refusing = false
  port = 0

  /** @param backends ports on 127.0.0.1, or addresses. */
  constructor (private readonly backends: Array<number | { readonly host: string, readonly port: number }>) {}

  get url (): string {
    return `ws://127.0.0.1:${this.port}/ws`
  }

  async start (): Promise<void> {
    this.server = net.createServer((client) => {
      if (this.refusing) {
        client.destroy()
        return
      }
      client.pause()
      this.track(client)
      this.connect(client, 0)
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
  }

  private connect (client: net.Socket, tried: number): void {
    if (tried >= this.backends.length || client.destroyed) {
      client.destroy()
      return
    }
    const backend = this.backends[this.next++ % this.backends.length]!
    const upstream = typeof backend === 'number' ? net.connect(backend, '127.0.0.1') : net.connect(backend.port, backend.host)
    let connected = false
    upstream.on('error', () => {
      if (connected) client.destroy()
      else this.connect(client, tried + 1) // refused: that instance is down, try the next
    })
    upstream.once('connect', () => {
      connected = true
      this.track(upstream)
      client.on('error', () => upstream.destroy())
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
      client.pipe(upstream).pipe(client)
      const pair: [net.Socket, net.Socket] = [client, upstream]
      this.pairs.add(pair)
      client.on('close', () => this.pairs.delete(pair))
      client.resume()
    })
  }

  private track (s: net.Socket): void {
    this.sockets.add(s)
    s.on('close', () => this.sockets.delete(s))
    s.on('error', () => {})
  }

  /**
   * Stops forwarding on every open connection without closing it: to both ends the peer has
   * gone silent, as when a machine vanishes. New connections are forwarded as usual.
   */
  freeze (): void {
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream)
      upstream.unpipe(client)
      client.pause()
      upstream.pause()
    }
    this.pairs.clear()
  }

  /** Closes every connection and refuses new ones until restore(): the backends are unreachable. */
  cut (): void {
    this.refusing = true
    for (const s of this.sockets) s.destroy()
  }

  restore (): void {
    this.refusing = false
  }

  async stop (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise((resolve) => this.server?.close(resolve) ?? resolve(undefined))
  }
}
