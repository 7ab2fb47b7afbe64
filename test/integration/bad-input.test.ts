/**
 * Bad input gets a clear close code and reason, is logged at warn, ends only the offending
 * connection, and leaves the document and everyone else untouched.
 */
import * as encoding from 'lib0/encoding'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { destroyClients, hocus, raw, synced, text, yws } from '../helpers/clients.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

let t: TestServer
beforeAll(async () => { t = await startServer({ config: { maxMessageBytes: 4096, authTimeoutMs: 300, maxQueuedMessagesBeforeAuth: 20, maxDocumentsPerConnection: 3 } }) })
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
