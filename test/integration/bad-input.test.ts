/**
 * Bad input gets a clear close code and reason, is logged at warn, ends only the offending
 * connection, and leaves the document and everyone else untouched.
 */
import * as encoding from 'lib0/encoding'
import * as net from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { destroyClients, hocus, raw, synced, text, yws } from '../helpers/clients.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

let t: TestServer
beforeAll(async () => { t = await startServer({ config: { maxMessageBytes: 4096, authTimeoutMs: 300, maxQueuedMessagesBeforeAuth: 20, maxDocumentsPerConnection: 3, maxAwarenessClientsPerConnection: 2 } }) })
afterEach(() => destroyClients())
afterAll(async () => { await t.close() })

/** A valid update inserting `s` into text "t" of a fresh doc. */
function insertUpdate (s: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, s)
  return Y.encodeStateAsUpdate(doc)
}

const ywsUpdateFrame = (update: Uint8Array): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, 2)
  encoding.writeVarUint8Array(e, update)
  return encoding.toUint8Array(e)
}

const hpFrame = (address: string, ...body: Array<number | Uint8Array | string>): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarString(e, address)
  for (const part of body) {
    if (typeof part === 'number') encoding.writeVarUint(e, part)
    else if (typeof part === 'string') encoding.writeVarString(e, part)
    else encoding.writeVarUint8Array(e, part)
  }
  return encoding.toUint8Array(e)
}

let witnesses = 0

/** A fresh document with content and a connected observer, to prove nothing changed for them. */
async function witness (prefix: string): Promise<{ name: string, doc: Y.Doc, check (): Promise<void> }> {
  const name = `${prefix}-${++witnesses}`
  const w = yws(t.url, name)
  await synced(w.provider)
  w.doc.getText('t').insert(0, 'original')
  await waitFor(() => t.server.registry.get(name) !== undefined && t.server.registry.get(name)!.doc.getText('t').toString() === 'original', 'the server to hold the original text')
  return {
    name,
    doc: w.doc,
    check: async () => {
      expect(t.server.registry.get(name)!.doc.getText('t').toString()).toBe('original')
      // The observer is still connected and still syncing.
      const probe = yws(t.url, name)
      await synced(probe.provider)
      probe.doc.getText('t').insert(0, '+')
      await waitFor(() => text(w.doc) === '+original', 'the witness to keep syncing')
    },
  }
}

async function expectClose (frames: Uint8Array[] | Uint8Array, path: string, code: number, reason: RegExp | string): Promise<void> {
  const c = await raw(`${t.url}${path}`)
  for (const f of Array.isArray(frames) ? frames : [frames]) c.send(f)
  const closed = await c.closed
  expect(closed.code).toBe(code)
  if (typeof reason === 'string') expect(closed.reason).toBe(reason)
  else expect(closed.reason).toMatch(reason)
}

describe('y-websocket connections', () => {
  it.each([
    ['random bytes', Uint8Array.from([0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 1007, 'malformed message'],
    ['a truncated varint', Uint8Array.of(0x80), 1007, 'malformed message'],
    ['an unknown message type', Uint8Array.of(42, 1, 2), 1003, 'unsupported message type'],
    ['a length prefix larger than the frame', Uint8Array.of(0, 2, 100, 1, 2, 3), 1007, 'malformed message'],
    ['an auth message (server-only)', Uint8Array.of(2, 0, 1, 65), 1007, 'malformed message'],
    ['an update Yjs cannot apply', ywsUpdateFrame(insertUpdate('hello world').subarray(0, 4)), 1007, 'update could not be applied'],
  ])('closes on %s and leaves the document untouched', async (_name, frame, code, reason) => {
    const w = await witness('bad-yws')
    const warnsBefore = t.logs.filter((l) => l.level === 'warn').length
    await expectClose(frame, `/${w.name}`, code, reason)
    expect(t.logs.filter((l) => l.level === 'warn').length).toBeGreaterThan(warnsBefore)
    await w.check()
  })

  it('closes on a text frame with 1003', async () => {
    const c = await raw(`${t.url}/text-frame`)
    c.send('{"type":"hello"}')
    expect(await c.closed).toEqual({ code: 1003, reason: 'binary frames only' })
  })

  it('closes on a message larger than MAX_MESSAGE_BYTES with 1009', async () => {
    const c = await raw(`${t.url}/too-big`)
    c.send(ywsUpdateFrame(new Uint8Array(5000)))
    expect((await c.closed).code).toBe(1009)
    expect(t.logs.some((l) => l.level === 'warn' && l.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')).toBe(true)
  })

  it('refuses a document name with control characters before touching storage', async () => {
    const loadsBefore = t.server.registry.size
    const c = await raw(`${t.url}/bad%00name`)
    const closed = await c.closed
    expect(closed.code).toBe(1008)
    expect(closed.reason).toBe('document name contains control characters')
    // y-protocols permission-denied message came first: [2, 0, reason]
    expect(c.frames[0]?.subarray(0, 2)).toEqual(Uint8Array.of(2, 0))
    expect(t.server.registry.size).toBe(loadsBefore)
  })

  it('refuses names outside DOCUMENT_NAME_PATTERN before touching storage, and serves the others', async () => {
    const strict = await startServer({ env: { DOCUMENT_NAME_PATTERN: '^[a-z0-9-]+(/[a-z0-9-]+)*$' } })
    try {
      const c = await raw(`${strict.url}/${encodeURIComponent('Not Allowed!')}`)
      const closed = await c.closed
      expect(closed).toEqual({ code: 1008, reason: 'invalid document name' })
      expect(strict.server.registry.size).toBe(0)
      expect(strict.logs.find((l) => l.msg === 'connection refused')?.reason).toBe('document name does not match DOCUMENT_NAME_PATTERN')
      const ok = yws(strict.url, encodeURIComponent('team-1/diagram-2'))
      await synced(ok.provider)
    } finally {
      await strict.close()
    }
    await expect(startServer({ env: { DOCUMENT_NAME_PATTERN: '([unclosed' } })).rejects.toThrow(/DOCUMENT_NAME_PATTERN/)
  })

  it('drops the whole in-memory document when an update fails half-way, and reloads it from the store', async () => {
    // Structs decode and integrate, then the delete set is cut off: Yjs throws after changing the
    // doc. Nothing of it may be stored or relayed; clients reconnect to a clean reload.
    const w = yws(t.url, 'half-way')
    await synced(w.provider)
    w.doc.getText('t').insert(0, 'kept')
    await waitFor(() => t.server.registry.get('half-way')?.doc.getText('t').toString() === 'kept', 'the server to have kept')
    await waitFor(async () => ((await t.store.load('half-way'))?.updates.length ?? 0) > 0, 'kept to be stored')
    const full = insertUpdate('poison')
    await expectClose(ywsUpdateFrame(full.subarray(0, full.length - 1)), '/half-way', 1007, 'update could not be applied')
    await waitFor(() => t.logs.some((l) => l.msg?.toString().includes('failed half-way')), 'the reset to be logged')
    const fresh = yws(t.url, 'half-way')
    await synced(fresh.provider)
    expect(text(fresh.doc)).toBe('kept')
    const stored = await t.store.load('half-way')
    const check = new Y.Doc()
    for (const u of stored!.updates) Y.applyUpdate(check, u)
    expect(check.getText('t').toString()).toBe('kept')
  })
})

describe('upgrade requests', () => {
  it('answers a request target that is not a URL with 400 and keeps serving', async () => {
    const response = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(t.port, '127.0.0.1', () => {
        socket.write('GET http://[ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
      })
      let data = ''
      socket.on('data', (d) => { data += d.toString() })
      socket.on('close', () => resolve(data))
      socket.on('error', reject)
    })
    expect(response).toMatch(/^HTTP\/1.1 400/)
    expect((await fetch(`${t.httpUrl}/health`)).status).toBe(200)
  })
})

describe('awareness', () => {
  const awarenessFrame = (clients: number[]): Uint8Array => {
    const inner = encoding.createEncoder()
    encoding.writeVarUint(inner, clients.length)
    for (const id of clients) {
      encoding.writeVarUint(inner, id)
      encoding.writeVarUint(inner, 1)
      encoding.writeVarString(inner, '{"u":1}')
    }
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 1)
    encoding.writeVarUint8Array(e, encoding.toUint8Array(inner))
    return encoding.toUint8Array(e)
  }

  it('bounds the client ids one connection may announce, and forgets them when it leaves', async () => {
    const w = await witness('aw-cap')
    const states = t.server.registry.get(w.name)!.awareness
    const before = states.size // the witness' own state
    const ok = await raw(`${t.url}/${w.name}`)
    ok.send(awarenessFrame([101, 102]))
    await waitFor(() => states.presentCount === before + 2, 'two more states')
    ok.close()
    await waitFor(() => states.size === before, 'the leaver\'s states to be forgotten')
    await expectClose(awarenessFrame([201, 202, 203]), `/${w.name}`, 1008, 'too many awareness clients')
    await w.check()
  })

  it('does not remember removals of clients it never saw', async () => {
    const w = await witness('aw-removal')
    const before = t.server.registry.get(w.name)!.awareness.size
    const c = await raw(`${t.url}/${w.name}`)
    const inner = encoding.createEncoder()
    encoding.writeVarUint(inner, 3)
    for (const id of [901, 902, 903]) {
      encoding.writeVarUint(inner, id)
      encoding.writeVarUint(inner, 5)
      encoding.writeVarString(inner, 'null')
    }
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 1)
    encoding.writeVarUint8Array(e, encoding.toUint8Array(inner))
    c.send(encoding.toUint8Array(e))
    c.send(Uint8Array.of(3)) // query awareness: answered after the removals were handled
    // Two awareness frames: the states sent on joining, then the query-awareness answer.
    await waitFor(() => c.frames.filter((f) => f[0] === 1).length >= 2, 'the query-awareness answer')
    expect(t.server.registry.get(w.name)!.awareness.size).toBe(before)
  })
})

describe('hocuspocus connections', () => {
  const tokenMessage = (address: string): Uint8Array => hpFrame(address, 2, 0, 'token', '4.8.0')

  it.each([
    ['random bytes', Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 1007],
    ['an address longer than the frame', Uint8Array.of(50, 100, 100), 1007],
    ['an unknown message type', hpFrame('another-doc', 99), 1003],
    ['a SyncStatus (server-only)', hpFrame('another-doc', 8, 1), 1007],
  ])('closes on %s', async (_name, frame, code) => {
    const w = await witness('bad-hp')
    await expectClose([tokenMessage(w.name), frame], '', code, /./)
    await w.check()
  })

  it('closes the socket on an update Yjs cannot apply, with the document untouched', async () => {
    const w = await witness('bad-hp-update')
    const c = await raw(t.url)
    c.send(tokenMessage(w.name))
    await waitFor(() => c.frames.length > 0, 'Authenticated')
    c.send(hpFrame(w.name, 0, 2, insertUpdate('hello world').subarray(0, 4)))
    const closed = await c.closed
    expect(closed).toEqual({ code: 1007, reason: 'update could not be applied' })
    await w.check()
  })

  it('refuses addresses longer than any document name and session id', async () => {
    const c = await raw(t.url)
    c.send(tokenMessage('doc\0' + 'x'.repeat(300)))
    expect(await c.closed).toEqual({ code: 1008, reason: 'document address too long' })
  })

  it('drops what a provider keeps sending to a document the server closed, and keeps the socket', async () => {
    // A log row Yjs cannot apply: the document refuses to load and is closed by the server.
    await t.store.append([{ document: 'broken', update: Uint8Array.of(1, 1, 5, 0, 0x0f), userId: null }])
    const c = await raw(t.url)
    c.send(tokenMessage('broken'))
    await waitFor(() => c.frames.some((f) => new TextDecoder().decode(f).includes('document unavailable')), 'the Close message')
    // Far more than the socket's pre-authorization budget (20):
    for (let i = 0; i < 60; i++) c.send(hpFrame('broken', 1, Uint8Array.of(0)))
    c.send(tokenMessage('fine'))
    await waitFor(() => c.frames.some((f) => new TextDecoder().decode(f).includes('read-write')), 'the other document to be authenticated')
    expect(c.isClosed()).toBe(false)
  })

  it('resets the document when an update fails half-way into the structs waiting for dependencies', async () => {
    const w = await witness('pending-reset')
    const c = await raw(t.url)
    c.send(tokenMessage(w.name))
    await waitFor(() => c.frames.length > 0, 'Authenticated')
    // x2 depends on x1, which is never sent: it waits in the document's pending structs.
    const x = new Y.Doc()
    x.getText('t').insert(0, 'A')
    const sv = Y.encodeStateVector(x)
    x.getText('t').insert(1, 'B')
    c.send(hpFrame(w.name, 0, 2, Y.encodeStateAsUpdate(x, sv)))
    await waitFor(() => t.server.registry.get(w.name)!.doc.store.pendingStructs !== null, 'the update to wait for its dependency')
    // y2 also lacks its dependency; its delete set is cut off, so Yjs merges its structs into
    // the pending ones and then throws.
    const y = new Y.Doc()
    y.getText('t').insert(0, 'C')
    const svy = Y.encodeStateVector(y)
    y.getText('t').insert(1, 'D')
    const y2 = Y.encodeStateAsUpdate(y, svy)
    c.send(hpFrame(w.name, 0, 2, y2.subarray(0, y2.length - 1)))
    expect((await c.closed).code).toBe(1007)
    await waitFor(() => t.logs.some((l) => l.document === w.name && l.msg?.toString().includes('failed half-way')), 'the room to be reset')
  })

  it('bounds the queue of messages sent before authorization', async () => {
    const c = await raw(t.url)
    for (let i = 0; i < 25; i++) c.send(hpFrame('queued', 1, Uint8Array.of(0)))
    const closed = await c.closed
    expect(closed).toEqual({ code: 1008, reason: 'too many messages before authorization' })
  })

  it('bounds the documents one socket may open', async () => {
    const c = await raw(t.url)
    for (let i = 0; i < 4; i++) c.send(tokenMessage(`many-${i}`))
    expect((await c.closed).code).toBe(1008)
  })

  it('closes a socket that never authenticates a document with 4408', async () => {
    const c = await raw(t.url)
    expect((await c.closed).code).toBe(4408)
  })

  it('denies a bad document name with PermissionDenied and keeps the socket for other documents', async () => {
    const h = hocus(t.url, 'bad\u0001name')
    const reason = await new Promise<string>((resolve) => h.provider.on('authenticationFailed', ({ reason }: { reason: string }) => resolve(reason)))
    expect(reason).toBe('document name contains control characters')
    expect(t.server.registry.get('bad\u0001name')).toBeUndefined()
  })
})
