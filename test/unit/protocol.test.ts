/**
 * The protocol decoders against frames built by the clients' own encoders (y-protocols, lib0,
 * @hocuspocus/common), and our encoders against the clients' own decoders. Then malformed input:
 * every case must throw a ProtocolError, never return garbage or read past the frame.
 */
import { readAuthMessage, writeAuthentication } from '@hocuspocus/common'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import * as hp from '../../src/protocol/hocuspocus.js'
import * as yws from '../../src/protocol/y-websocket.js'
import { awarenessBody, syncStep1Body, syncStep2Body, updateBody } from '../../src/protocol/messages.js'
import { decodeAwarenessUpdate, encodeAwarenessUpdate } from '../../src/protocol/awareness.js'
import { ProtocolError } from '../../src/errors.js'
import { Reader } from '../../src/protocol/binary.js'

function docWithText (s: string): Y.Doc {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, s)
  return doc
}

const frame = (build: (e: encoding.Encoder) => void): Uint8Array => {
  const e = encoding.createEncoder()
  build(e)
  return encoding.toUint8Array(e)
}

describe('y-websocket decoder', () => {
  it('decodes sync step 1, step 2 and updates written by y-protocols', () => {
    const doc = docWithText('hello')
    const step1 = yws.decode(frame((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, doc) }))
    expect(step1).toEqual({ kind: 'sync-step-1', stateVector: Y.encodeStateVector(doc) })
    const step2 = yws.decode(frame((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep2(e, doc) }))
    expect(step2).toEqual({ kind: 'sync-step-2', update: Y.encodeStateAsUpdate(doc) })
    const u = Y.encodeStateAsUpdate(doc)
    expect(yws.decode(frame((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, u) }))).toEqual({ kind: 'update', update: u })
  })

  it('decodes awareness and query-awareness', () => {
    const doc = new Y.Doc()
    const awareness = new awarenessProtocol.Awareness(doc)
    awareness.setLocalState({ user: 'ann' })
    const update = awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])
    expect(yws.decode(frame((e) => { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, update) }))).toEqual({ kind: 'awareness', update })
    expect(yws.decode(Uint8Array.of(3))).toEqual({ kind: 'query-awareness' })
    awareness.destroy()
  })

  it.each([
    ['empty frame', []],
    ['truncated varint', [0x80]],
    ['unknown message type', [42]],
    ['unknown sync type', [0, 7, 0]],
    ['length prefix larger than the frame', [0, 2, 50, 1, 2, 3]],
    ['huge length prefix', [0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f]],
    ['auth sent by a client', [2, 0, 0]],
    ['sync without payload', [0, 2]],
  ])('refuses %s', (_name, bytes) => {
    expect(() => yws.decode(Uint8Array.from(bytes))).toThrow(ProtocolError)
  })

  it('never reads past the frame when it is a view into a larger buffer', () => {
    // ws hands out views into socket buffers: lib0 would happily read the neighbouring bytes.
    const backing = new Uint8Array(64).fill(7)
    backing.set([0, 2, 10, 1, 2], 0)
    expect(() => yws.decode(backing.subarray(0, 5))).toThrow(/exceeds/)
  })
})

describe('hocuspocus decoder', () => {
  const address = (e: encoding.Encoder, a: string): void => encoding.writeVarString(e, a)

  it('decodes the token message with and without provider version', () => {
    const withVersion = hp.decode(frame((e) => { address(e, 'doc-1'); encoding.writeVarUint(e, 2); writeAuthentication(e, 'tok'); encoding.writeVarString(e, '4.8.0') }))
    expect(withVersion.kind).toBe('message')
    if (withVersion.kind !== 'message') return
    expect(hp.addressToString(withVersion.address)).toBe('doc-1')
    expect(withVersion.message).toEqual({ kind: 'auth', token: 'tok', providerVersion: '4.8.0' })
    const bare = hp.decode(frame((e) => { address(e, 'doc-1'); encoding.writeVarUint(e, 2); writeAuthentication(e, '') }))
    expect(bare.kind === 'message' && bare.message).toEqual({ kind: 'auth', token: '', providerVersion: null })
  })

  it('decodes session-aware addresses, sync, stateless and close', () => {
    const doc = docWithText('x')
    const key = 'doc-1\0abc123'
    const f = hp.decode(frame((e) => { address(e, key); encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, doc) }))
    expect(f.kind === 'message' && hp.addressToString(f.address)).toBe(key)
    expect(hp.parseAddress(key)).toEqual({ documentName: 'doc-1', sessionId: 'abc123' })
    expect(hp.parseAddress('plain')).toEqual({ documentName: 'plain', sessionId: null })
    const s = hp.decode(frame((e) => { address(e, 'd'); encoding.writeVarUint(e, 5); encoding.writeVarString(e, '{"a":1}') }))
    expect(s.kind === 'message' && s.message).toEqual({ kind: 'stateless', payload: '{"a":1}' })
    const c = hp.decode(frame((e) => { address(e, 'd'); encoding.writeVarUint(e, 7) }))
    expect(c.kind === 'message' && c.message).toEqual({ kind: 'close' })
  })

  it('decodes the bare ping and pong frames', () => {
    expect(hp.decode(Uint8Array.of(9))).toEqual({ kind: 'ping' })
    expect(hp.decode(Uint8Array.of(10))).toEqual({ kind: 'pong' })
  })

  it.each([
    ['a truncated address', [5, 100, 111]],
    ['an address that is not UTF-8', [2, 0xc3, 0x28, 0]],
    ['a server-only SyncStatus', [1, 100, 8, 1]],
    ['a server-only BroadcastStateless', [1, 100, 6, 0]],
    ['an unknown type', [1, 100, 99]],
    ['a PermissionDenied from a client', [1, 100, 2, 1, 0]],
    ['a stateless payload longer than the frame', [1, 100, 5, 9, 1]],
  ])('refuses %s', (_name, bytes) => {
    expect(() => {
      const f = hp.decode(Uint8Array.from(bytes))
      if (f.kind === 'message') hp.addressToString(f.address)
    }).toThrow(ProtocolError)
  })
})

describe('primitives', () => {
  it('keeps a leading U+FEFF in an address: one name, one document, on every protocol', () => {
    const f = hp.decode(frame((e) => { encoding.writeVarString(e, '\uFEFFcafe'); encoding.writeVarUint(e, 3) }))
    expect(f.kind === 'message' && hp.addressToString(f.address)).toBe('\uFEFFcafe')
  })

  it('refuses a varUint above 2^53 - 1 (an awareness clock that could never advance), in the last byte too', () => {
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 2 ** 60)
    expect(() => new Reader(encoding.toUint8Array(e)).varUint()).toThrow(ProtocolError)
    const max = encoding.createEncoder()
    encoding.writeVarUint(max, Number.MAX_SAFE_INTEGER)
    expect(new Reader(encoding.toUint8Array(max)).varUint()).toBe(Number.MAX_SAFE_INTEGER)
  })
})

describe('encoders read back by the clients\' own decoders', () => {
  it('sync bodies apply through y-protocols', () => {
    const server = docWithText('from server')
    const client = new Y.Doc()
    const step2 = syncStep2Body(Y.encodeStateAsUpdate(server))
    const d = decoding.createDecoder(step2)
    expect(decoding.readVarUint(d)).toBe(0)
    syncProtocol.readSyncMessage(d, encoding.createEncoder(), client, null)
    expect(client.getText('t').toString()).toBe('from server')
    const u = updateBody(Y.encodeStateAsUpdate(docWithText('!')))
    expect(u[0]).toBe(0)
    expect(u[1]).toBe(2)
    const s1 = syncStep1Body(Y.encodeStateVector(server))
    expect(Array.from(s1.subarray(0, 2))).toEqual([0, 0])
  })

  it('hocuspocus auth replies read back with @hocuspocus/common', () => {
    const prefix = hp.addressPrefix('doc\0s1')
    const seen: string[] = []
    for (const f of [hp.authenticated(prefix, 'readonly'), hp.permissionDenied(prefix, 'nope')]) {
      const d = decoding.createDecoder(f)
      expect(decoding.readVarString(d)).toBe('doc\0s1')
      expect(decoding.readVarUint(d)).toBe(2)
      readAuthMessage(d, () => seen.push('token'), (r) => seen.push(`denied:${r}`), (s) => seen.push(`ok:${s}`))
    }
    expect(seen).toEqual(['ok:readonly', 'denied:nope'])
  })

  it('SyncStatus carries a lib0 varInt the provider reads as 1', () => {
    const d = decoding.createDecoder(hp.syncStatusApplied(hp.addressPrefix('d')))
    decoding.readVarString(d)
    expect(decoding.readVarUint(d)).toBe(8)
    expect(decoding.readVarInt(d)).toBe(1)
  })

  it('awareness updates round-trip with y-protocols', () => {
    const doc = new Y.Doc()
    const a = new awarenessProtocol.Awareness(doc)
    a.setLocalState({ name: 'Zoë', cursor: { x: 1 } })
    const update = awarenessProtocol.encodeAwarenessUpdate(a, [doc.clientID])
    const entries = decodeAwarenessUpdate(update)
    expect(entries).toEqual([{ clientId: doc.clientID, clock: a.meta.get(doc.clientID)!.clock, state: JSON.stringify(a.getLocalState()) }])
    const other = new awarenessProtocol.Awareness(new Y.Doc())
    awarenessProtocol.applyAwarenessUpdate(other, encodeAwarenessUpdate(entries), null)
    expect(other.getStates().get(doc.clientID)).toEqual({ name: 'Zoë', cursor: { x: 1 } })
    const body = awarenessBody(update)
    expect(body[0]).toBe(1)
    a.destroy()
    other.destroy()
  })

  it('refuses awareness states that are not JSON, and impossible entry counts', () => {
    const bad = frame((e) => { encoding.writeVarUint(e, 1); encoding.writeVarUint(e, 5); encoding.writeVarUint(e, 1); encoding.writeVarString(e, '{not json') })
    expect(() => decodeAwarenessUpdate(bad)).toThrow(ProtocolError)
    expect(() => decodeAwarenessUpdate(Uint8Array.of(0xff, 0xff, 0x03, 1, 1))).toThrow(ProtocolError)
  })
})
