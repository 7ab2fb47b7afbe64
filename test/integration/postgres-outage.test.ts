/**
 * PostgreSQL going away under a running server, through a TCP proxy the test cuts and restores:
 * clients keep syncing with each other, acknowledgements stop, /health reports the database
 * down, and once it is back every pending update is written and acknowledged. The process never
 * crashes on a database error.
 */
import * as net from 'node:net'
import { afterAll, afterEach, expect, it } from 'vitest'
import { PostgresStore } from '../../dist/index.js'
import { destroyClients, hocus, synced, text, yws } from '../helpers/clients.js'
import { freshSchema, PG_ADDRESS, schemaUrl, type Schema } from '../helpers/postgres.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

let schema: Schema | null = null

/** Forwards 127.0.0.1:<port> to PostgreSQL until cut; a cut drops every connection and refuses new ones. */
class Proxy {
  private server: net.Server | null = null
  private readonly sockets = new Set<net.Socket>()
  port = 0

  async start (): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(PG_ADDRESS.port, PG_ADDRESS.host)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => {})
      }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
  }

  async cut (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise((resolve) => this.server!.close(resolve))
    this.server = null
  }
}

const proxy = new Proxy()
let server: TestServer | null = null

afterEach(async () => {
  destroyClients()
  await server?.close()
})
afterAll(async () => { await schema?.drop() })

it('keeps clients in sync during an outage and writes and acknowledges everything once the database is back', async () => {
  schema = await freshSchema('outage')
  await proxy.start()
  const url = schemaUrl(schema.name, proxy.port)
  const store = new PostgresStore({ url, poolSize: 4, migrate: true })
  server = await startServer({ store })
  const writer = hocus(server.url, 'outage')
  const reader = yws(server.url, 'outage')
  await synced(writer.provider)
  await synced(reader.provider)
  writer.doc.getText('t').insert(0, 'before.')
  await waitFor(() => writer.provider.unsyncedChanges === 0, 'the first edit to be acknowledged')

  await proxy.cut()
  for (let i = 0; i < 20; i++) writer.doc.getText('t').insert(writer.doc.getText('t').length, `${i},`)
  await waitFor(() => text(reader.doc).endsWith('19,'), 'the reader to get the edits during the outage')
  await waitFor(async () => (await fetch(`${server!.httpUrl}/health`)).status === 503, 'health to report the outage')
  const health = await (await fetch(`${server.httpUrl}/health`)).json() as { status: string, database: { connected: boolean } }
  expect(health.status).toBe('unhealthy')
  expect(health.database.connected).toBe(false)
  expect(writer.provider.unsyncedChanges).toBeGreaterThan(0) // nothing acknowledged while the database is gone

  await proxy.start() // same port
  await waitFor(() => writer.provider.unsyncedChanges === 0, 'every pending edit to be acknowledged after the outage', 20_000)
  await waitFor(async () => (await fetch(`${server!.httpUrl}/health`)).status === 200, 'health to recover')
  const expected = text(writer.doc)
  const check = new PostgresStore({ url: schema.url, poolSize: 1, migrate: false })
  await check.open()
  const stored = await check.load('outage')
  await check.close()
  const { buildDoc } = await import('../../dist/storage/snapshot.js')
  expect(buildDoc('outage', stored).getText('t').toString()).toBe(expected)
  expect(server.logs.some((l) => l.msg === 'store writes recovered')).toBe(true)
}, 60_000)
