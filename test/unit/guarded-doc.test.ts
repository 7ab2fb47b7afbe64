/**
 * The one door every update goes through (documents/guarded-doc.ts): a refused update leaves the
 * document as it was and is reported as the sender's fault only; one that gets half-way is
 * reported before the error is thrown; an update with nothing new is told apart; and the cached
 * whole-document encoding never goes stale.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { InvalidUpdateError, ProtocolError } from '../../src/errors.js'
import { GuardedDoc } from '../../src/documents/guarded-doc.js'

function guarded (snapshot: Uint8Array | null = null): { doc: GuardedDoc, halfApplied: unknown[] } {
  const halfApplied: unknown[] = []
  const doc = new GuardedDoc('doc', new Y.Doc(), snapshot, (_err, origin) => { halfApplied.push(origin) })
  return { doc, halfApplied }
}

function edit (text: string, base = new Y.Doc()): Uint8Array {
  const before = Y.encodeStateVector(base)
  base.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(base, before)
}

describe('guarded doc', () => {
  it('applies updates and reports whether one brought anything new', () => {
    const { doc } = guarded()
    const source = new Y.Doc()
    const u = edit('hello', source)
    doc.apply(u, 'client')
    expect(doc.doc.getText('t').toString()).toBe('hello')
    expect(doc.applyIfNew(u, 'client')).toBe(false) // the same again
    expect(doc.applyIfNew(edit('! ', source), 'client')).toBe(true)
    expect(doc.doc.getText('t').toString()).toBe('! hello')
  })

  it('leaves the document as it was when Yjs refuses an update outright', () => {
    const { doc, halfApplied } = guarded()
    doc.apply(edit('kept'), 'a')
    expect(() => doc.apply(new Uint8Array([1, 2, 3, 4, 5, 6]), 'b')).toThrow(InvalidUpdateError)
    expect(halfApplied).toEqual([])
    expect(doc.doc.getText('t').toString()).toBe('kept')
  })

  it('reports an update that got half-way, with its origin, before throwing', () => {
    const { doc, halfApplied } = guarded()
    const source = new Y.Doc()
    source.getText('t').insert(0, 'abc')
    source.getText('t').delete(0, 1)
    const full = Y.encodeStateAsUpdate(source)
    // The structs integrate, then the delete set is cut short.
    expect(() => doc.apply(full.subarray(0, full.length - 1), 'culprit')).toThrow(InvalidUpdateError)
    expect(halfApplied).toEqual(['culprit'])
  })

  it('counts an update parked for missing dependencies as a change', () => {
    const { doc } = guarded()
    const source = new Y.Doc()
    edit('first', source)
    const first = Y.encodeStateAsUpdate(source)
    const second = edit('second ', source) // depends on the first, which the guarded doc lacks
    expect(doc.applyIfNew(second, 'peer')).toBe(true) // worth a row: the store must keep it
    expect(doc.doc.getText('t').toString()).toBe('') // pending, not integrated
    expect(doc.applyIfNew(first, 'peer')).toBe(true)
    expect(doc.doc.getText('t').toString()).toBe('second first')
  })

  it('serves the stored snapshot to a client with nothing, and a fresh encoding after a change', () => {
    const source = new Y.Doc()
    source.getText('t').insert(0, 'stored')
    const snapshot = Y.encodeStateAsUpdate(source)
    const doc = new GuardedDoc('doc', new Y.Doc(), snapshot, () => {})
    Y.applyUpdate(doc.doc, snapshot)
    const empty = new Uint8Array([0])
    expect(doc.diff(empty)).toBe(snapshot) // the stored bytes as they are
    doc.apply(edit('new ', source), 'client')
    const after = new Y.Doc()
    Y.applyUpdate(after, doc.diff(empty))
    expect(after.getText('t').toString()).toBe('new stored')
  })

  it('keeps the cached encoding across an update that brings nothing new, and refuses a malformed state vector', () => {
    const { doc } = guarded()
    const u = edit('x')
    doc.apply(u, 'a')
    const first = doc.diff(new Uint8Array([0]))
    expect(doc.applyIfNew(u, 'a')).toBe(false)
    expect(doc.diff(new Uint8Array([0]))).toBe(first)
    expect(() => doc.diff(new Uint8Array([5, 200]))).toThrow(ProtocolError)
  })

  it('tells whether an update holds anything the document lacks (read-only members)', () => {
    const { doc } = guarded()
    const source = new Y.Doc()
    const u = edit('seen', source)
    doc.apply(u, 'a')
    expect(doc.containsUpdate(u)).toBe(true)
    expect(doc.containsUpdate(edit('unseen ', source))).toBe(false)
  })
})
