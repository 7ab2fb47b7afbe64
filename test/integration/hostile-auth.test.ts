/**
 * Hostile clients at the door (issue 11, items 1, 10 and 12), against a real `collabd start`
 * process: oversized and repeated garbage tokens, user ids that the stores would mangle, and
 * names that mean another document once something on the way normalises them.
 */
import * as http from 'node:http'
import { readFileSync } from 'node:fs'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { SignJWT, type JWTPayload } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { destroyClients, hocus, raw, synced, text, yws } from '../helpers/clients.js'
import { spawnServer, tempDir, type ServerProcess } from '../helpers/server.js'
import { sleep, waitFor } from '../helpers/wait.js'

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256'
const hs256 = async (claims: JWTPayload): Promise<string> =>
  await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(SECRET))

/** A Hocuspocus token message for `address`. */
function authFrame (address: string, token: string): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarString(e, address)
  encoding.writeVarUint(e, 2) // Auth
  encoding.writeVarUint(e, 0) // Token
  encoding.writeVarString(e, token)
  return encoding.toUint8Array(e)
}

/** The reasons of the PermissionDenied messages among `frames`. */
function denials (frames: Uint8Array[]): string[] {
  return frames.flatMap((f) => {
    const d = decoding.createDecoder(f)
    decoding.readVarString(d)
    if (decoding.readVarUint(d) !== 2 || decoding.readVarUint(d) !== 1) return []
    return [decoding.readVarString(d)]
  })
}

const rssBytes = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024

async function healthWithin (s: ServerProcess, ms: number): Promise<void> {
  const start = Date.now()
  const res = await fetch(`${s.httpUrl}/health`, { signal: AbortSignal.timeout(ms) })
  expect(res.status).toBe(200)
  expect(Date.now() - start).toBeLessThan(ms)
}

/** A raw upgrade with the path exactly as given (ws and fetch would resolve dot segments first); resolves with the close code. */
function upgradeCloseCode (port: number, path: string): Promise<number | string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } })
    req.on('response', (res) => resolve(`HTTP ${res.statusCode}`))
    req.on('upgrade', (_res, socket, head: Buffer) => {
      let buf = Buffer.alloc(0)
      const read = (chunk: Buffer): void => {
        buf = Buffer.concat([buf, chunk])
        // Server frames are unmasked and short here: opcode byte, 7-bit length, payload.
        let at = 0
        while (buf.length >= at + 2) {
          const len = buf[at + 1]! & 0x7f
          if (buf.length < at + 2 + len) return
          if ((buf[at]! & 0x0f) === 0x8) {
            resolve(buf.readUInt16BE(at + 2))
            socket.destroy()
            return
          }
          at += 2 + len
        }
      }
      socket.on('data', read)
      socket.on('error', () => {})
      read(head)
    })
    req.on('error', reject)
    req.end()
  })
}

let s: ServerProcess
const dir = tempDir()
beforeAll(async () => { s = await spawnServer({ JWT_SECRET: SECRET, DATABASE_URL: `sqlite://${dir.dir}/hostile.db` }) })
afterAll(async () => {
  destroyClients()
  await s.stop()
  dir.remove()
})

describe('tokens', () => {
  it('closes a socket trying garbage token after token, and keeps none of them in memory', async () => {
    const garbage = (i: number): string => String(i).padEnd(1024 * 1024, 'x')
    // Rounds of 12 sockets x 4 tokens of 1 MiB, each different: before the bounds, every refusal
    // stayed cached with its token as the key (48 MiB a round; the process died after ~1,100 of
    // 4 MiB). The first round sets the process' high-water mark; a second must not add to it.
    const round = async (base: number): Promise<Array<Awaited<ReturnType<typeof raw>>>> => {
      const sockets = await Promise.all(Array.from({ length: 12 }, async () => await raw(s.url)))
      sockets.forEach((c, n) => { for (let i = 0; i < 4; i++) c.send(authFrame(`doc-${i}`, garbage(base + n * 4 + i))) })
      await waitFor(() => sockets.every((c) => denials(c.frames).length === 4), 'every token refused')
      return sockets
    }
    await round(0)
    await sleep(300)
    const rssBefore = rssBytes(s.proc.pid!)
    const sockets = await round(100)
    for (const c of sockets) expect(c.isClosed()).toBe(false) // four refusals: under MAX_AUTH_FAILURES_PER_CONNECTION
    // The fifth refusal on one socket closes it.
    const persistent = sockets[0]!
    persistent.send(authFrame('doc-4', garbage(1000)))
    expect(await persistent.closed).toEqual({ code: 4401, reason: 'authentication failed' })
    expect(s.logs().some((l) => typeof l.reason === 'string' && l.reason.startsWith('token larger than MAX_TOKEN_BYTES'))).toBe(true)
    await sleep(500)
    expect(rssBytes(s.proc.pid!) - rssBefore).toBeLessThan(16 * 1024 * 1024)
    await healthWithin(s, 1000)
  })

  it('refuses a properly signed token over MAX_TOKEN_BYTES without verifying it, and admits a normal one', async () => {
    const big = await hs256({ sub: 'bea', pad: 'p'.repeat(20_000) })
    const c = await raw(s.url)
    c.send(authFrame('cafe-token', big))
    await waitFor(() => denials(c.frames).length === 1, 'the big token refused')
    expect(denials(c.frames)).toEqual(['authentication failed'])
    const ok = hocus(s.url, 'cafe-token', { token: await hs256({ sub: 'bea' }) })
    await synced(ok.provider)
  })
})

describe('user ids and names', () => {
  it('refuses a user id with a lone surrogate, which the stores cannot keep exact', async () => {
    // JSON.stringify writes the lone surrogate as the escape \ud800, so it survives into the claims.
    const token = await hs256({ sub: 'u\ud800' })
    const c = await raw(`${s.url}/surrogate-doc?token=${token}`)
    expect((await c.closed).code).toBe(4401)
    expect(s.logs().some((l) => l.reason === 'user id is not well-formed Unicode')).toBe(true)
  })

  it('one name is one document: dot segments and U+FEFF are refused on both protocols, the plain name works on both', async () => {
    const token = await hs256({ sub: 'dot', role: 'editor' })
    for (const path of ['/ws/x/../cafe', '/ws/x/%2e%2e/cafe', '/ws/./cafe', '/ws/cafe/..']) {
      expect(await upgradeCloseCode(s.port, `${path}?token=${token}`), path).toBe(1008)
    }
    const c = await raw(s.url)
    c.send(authFrame('\uFEFFcafe', token))
    c.send(authFrame('x/../cafe', token))
    await waitFor(() => denials(c.frames).length === 2, 'both names refused')
    expect(denials(c.frames).sort()).toEqual(['document name contains U+FEFF', 'document name contains a . or .. segment'].sort())
    const a = yws(`${s.url}`, 'cafe', { params: { token } })
    const b = hocus(s.url, 'cafe', { token })
    await synced(a.provider)
    await synced(b.provider)
    a.doc.getText('t').insert(0, 'one document')
    await waitFor(() => text(b.doc) === 'one document', 'the Hocuspocus client to see the y-websocket edit')
  })
})
