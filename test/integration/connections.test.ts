/**
 * Connection-level behaviour: heartbeat, HTTP on the same port (and the health port), logs
 * that never carry credentials, and a burst of updates that must not stall anyone else.
 */
import * as encoding from 'lib0/encoding'
import { spawn } from 'node:child_process'
import { createServer as createNetServer } from 'node:net'
import * as path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { destroyClients, hocus, raw, synced, text, yws } from '../helpers/clients.js'
import { ROOT, spawnServer, startServer, type ServerProcess, type TestServer } from '../helpers/server.js'
import { sleep, waitFor } from '../helpers/wait.js'

let t: TestServer | null = null
let p: ServerProcess | null = null
afterEach(async () => {
  destroyClients()
  await t?.close()
  await p?.stop('SIGKILL')
  t = null
  p = null
})

const freePort = (): Promise<number> => new Promise((resolve) => {
  const s = createNetServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address() as { port: number }
    s.close(() => resolve(port))
  })
})

describe('heartbeat', () => {
  it('terminates a connection that stops answering pings and removes its awareness state', async () => {
    t = await startServer({ config: { heartbeatIntervalMs: 150 } })
    const watcher = yws(t.url, 'heartbeat')
    await synced(watcher.provider)
    const silent = await raw(`${t.url}/heartbeat`, { autoPong: false })
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 1)
    // An awareness update for client 4242 with state {"name":"silent"}.
    const inner = encoding.createEncoder()
    encoding.writeVarUint(inner, 1)
    encoding.writeVarUint(inner, 4242)
    encoding.writeVarUint(inner, 1)
    encoding.writeVarString(inner, '{"name":"silent"}')
    encoding.writeVarUint8Array(e, encoding.toUint8Array(inner))
    silent.send(encoding.toUint8Array(e))
    await waitFor(() => watcher.provider.awareness.getStates().get(4242)?.name === 'silent', 'the watcher to see the silent client')
    const closed = await silent.closed
    expect(closed.code).toBe(1006) // terminated, no close frame
    await waitFor(() => !watcher.provider.awareness.getStates().has(4242), 'its awareness state to be removed')
    expect(t.logs.some((l) => l.msg?.toString().includes('no pong'))).toBe(true)
    // The well-behaved client (ws answers pings) is still there after several intervals.
    expect(watcher.provider.wsconnected).toBe(true)
  })

  it('sends Hocuspocus 4 providers a bare Ping, which they answer', async () => {
    t = await startServer({ config: { heartbeatIntervalMs: 100 } })
    const h = hocus(t.url, 'app-ping')
    await synced(h.provider)
    const c = await raw(t.url)
    const e = encoding.createEncoder()
    encoding.writeVarString(e, 'app-ping')
    encoding.writeVarUint(e, 2)
    encoding.writeVarUint(e, 0)
    encoding.writeVarString(e, 'token')
    encoding.writeVarString(e, '4.8.0')
    c.send(encoding.toUint8Array(e))
    await waitFor(() => c.frames.some((f) => f.length === 1 && f[0] === 9), 'a bare Ping frame')
    await sleep(350)
    expect(h.provider.isSynced).toBe(true)
    expect(t.server.activeConnections).toBe(2)
  })
})

describe('a client that stops reading', () => {
  it('is dropped once MAX_BUFFERED_BYTES wait for it, and the others carry on', async () => {
    t = await startServer({ config: { maxBufferedBytes: 1024 * 1024, heartbeatIntervalMs: 1000 } })
    const stuck = await raw(`${t.url}/slow-reader`)
    const reader = yws(t.url, 'slow-reader')
    await synced(reader.provider)
    stuck.ws.pause() // stops reading; the kernel buffers fill, then the server's
    const writer = yws(t.url, 'slow-reader')
    await synced(writer.provider)
    const chunk = 'y'.repeat(200_000)
    // Enough to fill the loopback socket buffers (a few MB) and then MAX_BUFFERED_BYTES.
    for (let i = 0; i < 60; i++) writer.doc.getText('t').insert(0, chunk)
    // The healthy reader takes in 12 MB too, but drains it within the grace.
    await waitFor(() => t!.logs.some((l) => l.msg === 'client is not reading; dropping connection'), 'the stuck client to be dropped', 20_000)
    await waitFor(() => text(reader.doc).length === 60 * chunk.length, 'the healthy reader to get everything', 20_000)
  })
})

describe('HTTP on the WebSocket port', () => {
  it('serves /health in the seed\'s shape, 404 elsewhere, 405 for another method, and the same on HEALTH_PORT', async () => {
    const healthPort = await freePort()
    t = await startServer({ config: { healthPort } })
    const c = yws(t.url, 'health-doc')
    await synced(c.provider)
    const res = await fetch(`${t.httpUrl}/health`)
    expect(res.status).toBe(200)
    const body = await res.json() as Record<string, any>
    expect(body).toMatchObject({ status: 'healthy', database: { connected: true }, connections: { active: 1 }, documents: { loaded: 1 } })
    expect(typeof body.timestamp).toBe('string')
    expect(typeof body.uptime).toBe('number')
    expect(typeof body.database.latency).toBe('number')
    expect((await fetch(`${t.httpUrl}/nope`)).status).toBe(404)
    expect((await fetch(`${t.httpUrl}/health`, { method: 'POST' })).status).toBe(405)
    const second = await fetch(`http://127.0.0.1:${healthPort}/health`)
    expect(second.status).toBe(200)
    expect((await second.json() as { status: string }).status).toBe('healthy')
    expect((await fetch(`http://127.0.0.1:${healthPort}/ws`)).status).toBe(404)
    expect((await fetch(`http://127.0.0.1:${healthPort}/health`, { method: 'DELETE' })).status).toBe(405)
    expect((await fetch(`http://127.0.0.1:${healthPort}/health`, { method: 'HEAD' })).status).toBe(200)
  })

  it('refuses upgrades on other paths', async () => {
    t = await startServer()
    await expect(raw(`ws://127.0.0.1:${t.port}/elsewhere`)).rejects.toThrow(/404/)
  })
})

describe('logs', () => {
  it('never contain tokens, cookies or authorization headers', async () => {
    p = await spawnServer({ DATABASE_URL: 'memory:', LOG_LEVEL: 'debug' })
    const secrets = ['SECRET-QUERY-1', 'SECRET-BEARER-2', 'SECRET-COOKIE-3', 'SECRET-HOCUS-4']
    const c = await raw(`${p.url}/logged-doc?token=${secrets[0]}`, { headers: { authorization: `Bearer ${secrets[1]}`, cookie: `better-auth.session_token=${secrets[2]}` } })
    c.send(Uint8Array.of(42)) // a bad frame, to get a warn line about this connection
    await c.closed
    const h = hocus(p.url, 'logged-doc', { token: secrets[3] })
    await synced(h.provider)
    const bad = await raw(p.url, { headers: { cookie: `session=${secrets[2]}` } })
    bad.send(Uint8Array.of(1, 65, 99))
    await bad.closed
    await waitFor(() => p!.logs().filter((l) => l.msg === 'closing connection').length >= 2 && p!.logs().some((l) => l.msg === 'connected'), 'the log lines to be written')
    const all = p.lines.join('\n') + p.stderr.join('')
    for (const secret of secrets) expect(all).not.toContain(secret)
  })
})

describe('a burst of updates', () => {
  it('does not stall other connections and documents', async () => {
    p = await spawnServer({ DATABASE_URL: 'memory:' })
    const BURST = 20_000
    // A client on another document measures round trips (sync step 1 -> step 2) during the
    // burst, which comes from another process so that its CPU does not skew the measurement.
    const prober = await raw(`${p.url}/elsewhere`)
    const probe = (() => {
      const e = encoding.createEncoder()
      encoding.writeVarUint(e, 0)
      syncProtocol.writeSyncStep1(e, new Y.Doc())
      return encoding.toUint8Array(e)
    })()
    const rtts: number[] = []
    let probing = true
    const probeLoop = (async () => {
      while (probing) {
        const before = prober.frames.length
        const start = performance.now()
        prober.send(probe)
        await waitFor(() => prober.frames.slice(before).some((f) => f[0] === 0 && f[1] === 1), 'a probe answer', 10_000, 1)
        rtts.push(performance.now() - start)
        await sleep(2)
      }
    })()
    const child = spawn(process.execPath, [path.join(ROOT, 'test', 'helpers', 'burst-client.mjs'), p.url, 'burst', String(BURST)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    await waitFor(() => out.includes('sending'), 'the burst to start', 20_000)
    const rttsBefore = rtts.length
    await waitFor(() => out.includes('done'), 'all 20,000 updates acknowledged and relayed', 60_000)
    probing = false
    await probeLoop
    const during = rtts.slice(rttsBefore).sort((a, b) => a - b)
    const p50 = during[Math.floor(during.length / 2)]!
    const max = during[during.length - 1]!
    // Generous bounds for a shared 2-core machine; a server that froze on the burst (as one
    // merging 20,000 updates in a single turn does) would take seconds.
    expect(during.length).toBeGreaterThan(50)
    expect(p50).toBeLessThan(20)
    expect(max).toBeLessThan(250)
  })
})
