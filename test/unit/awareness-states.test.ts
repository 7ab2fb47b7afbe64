/**
 * A document's awareness table (src/documents/awareness-states.ts): y-protocols' clock rules
 * (checked against y-protocols' own Awareness on random updates), the per-owner limit, what a
 * leaving owner's removals look like to a stock client, and what encodeAll sends a newcomer.
 */
import { describe, expect, it } from 'vitest'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as Y from 'yjs'
import { AwarenessStates } from '../../src/documents/awareness-states.js'
import { CloseCode, LimitError } from '../../src/errors.js'
import { REMOVED_STATE, decodeAwarenessUpdate, encodeAwarenessUpdate, type AwarenessEntry } from '../../src/protocol/awareness.js'
import { prng } from '../helpers/wait.js'

type Owner = string

const entry = (clientId: number, clock: number, state: unknown): AwarenessEntry =>
  ({ clientId, clock, state: state === null ? REMOVED_STATE : JSON.stringify(state) })

/** A table whose members may hold `perMember` client ids, and each other instance `perPeer`. */
const table = (perMember: number, perPeer = perMember): AwarenessStates<Owner> => new AwarenessStates<Owner>({ perMember, perPeer })

/** Entries from a member, or (`fromPeer`) from another instance, whose removals are forgotten at once. */
function apply (states: AwarenessStates<Owner>, owner: Owner, entries: AwarenessEntry[], opts: { fromPeer?: boolean } = {}): boolean {
  return opts.fromPeer === true ? states.applyFromPeer(entries, owner) : states.applyFromMember(entries, owner)
}

/** What encodeAll would tell a newcomer, as clientId -> [clock, state]. */
function present (states: AwarenessStates<Owner>, include?: (o: Owner) => boolean): Record<number, [number, unknown]> {
  const update = states.encodeAll(include)
  if (update === null) return {}
  return Object.fromEntries(decodeAwarenessUpdate(update).map((e) => [e.clientId, [e.clock, JSON.parse(e.state) as unknown]]))
}

/** A stock y-protocols Awareness whose own (local) state is out of the way. */
function stockAwareness (): { awareness: awarenessProtocol.Awareness, remote (): Record<number, unknown>, destroy (): void } {
  const doc = new Y.Doc()
  doc.clientID = 1_000_000
  const awareness = new awarenessProtocol.Awareness(doc)
  awareness.setLocalState(null)
  return {
    awareness,
    remote: () => Object.fromEntries([...awareness.getStates()].filter(([id]) => id !== doc.clientID)),
    destroy: () => { awareness.destroy(); doc.destroy() },
  }
}

describe('clock rules', () => {
  it('takes a newer clock, ignores an older or equal one, and says whether anything changed', () => {
    const s = table(4)
    expect(apply(s, 'ann', [entry(1, 3, { cursor: 1 })])).toBe(true)
    expect(apply(s, 'ann', [entry(1, 2, { cursor: 0 })])).toBe(false)
    expect(apply(s, 'ann', [entry(1, 3, { cursor: 2 })])).toBe(false)
    expect(present(s)).toEqual({ 1: [3, { cursor: 1 }] })
    expect(apply(s, 'ann', [entry(1, 4, { cursor: 1 })])).toBe(true) // same state, newer clock: relayed (keeps it alive)
    expect(present(s)).toEqual({ 1: [4, { cursor: 1 }] })
  })

  it('lets a removal win over a state at an equal clock, once', () => {
    const s = table(4)
    apply(s, 'ann', [entry(1, 5, { a: 1 })])
    expect(apply(s, 'ann', [entry(1, 5, null)])).toBe(true)
    expect(present(s)).toEqual({})
    expect(apply(s, 'ann', [entry(1, 5, null)])).toBe(false) // already removed at that clock
    expect(apply(s, 'ann', [entry(1, 5, { a: 2 })])).toBe(false) // a late state at the removal's clock
    expect(s.size).toBe(1) // the removal's clock is kept, so late updates stay ordered
    expect(s.presentCount).toBe(0)
    expect(apply(s, 'ann', [entry(1, 6, { a: 3 })])).toBe(true) // the client came back
    expect(present(s)).toEqual({ 1: [6, { a: 3 }] })
  })

  it('ignores, and does not remember, the removal of a client it never saw', () => {
    const s = table(4)
    expect(apply(s, 'ann', [entry(9, 3, null)])).toBe(false)
    expect(s.size).toBe(0)
  })

  it('agrees with y-protocols\' Awareness on which states are present, over random updates', () => {
    // Two deliberate differences are kept out of the sequence: y-protocols ignores a first state
    // at clock 0 (it counts an unknown client as clock 0) and remembers the clock of a removal of
    // a client it never saw; the table takes the former and forgets the latter.
    const rand = prng(7)
    const s = table(100)
    const stock = stockAwareness()
    const seen = new Set<number>()
    try {
      for (let step = 0; step < 3000; step++) {
        const clientId = 1 + Math.floor(rand() * 6)
        const clock = 1 + Math.floor(rand() * 8)
        const remove = rand() < 0.3
        if (remove && !seen.has(clientId)) continue
        const e = entry(clientId, clock, remove ? null : { step })
        let stockChanged = false
        const onUpdate = (): void => { stockChanged = true }
        stock.awareness.on('update', onUpdate)
        awarenessProtocol.applyAwarenessUpdate(stock.awareness, encodeAwarenessUpdate([e]), 'test')
        stock.awareness.off('update', onUpdate)
        const changed = apply(s, 'ann', [e])
        if (!remove) seen.add(clientId)
        expect(changed, `step ${step}: whether ${JSON.stringify(e)} changed anything`).toBe(stockChanged)
        expect(Object.fromEntries(Object.entries(present(s)).map(([id, [, state]]) => [id, state])), `step ${step}`).toEqual(stock.remote())
      }
    } finally {
      stock.destroy()
    }
  })
})

describe('per-owner limit', () => {
  it('refuses a client id past the member\'s limit with a policy-violation LimitError, keeping what it had', () => {
    const s = table(2)
    apply(s, 'ann', [entry(1, 1, { n: 1 }), entry(2, 1, { n: 2 })])
    apply(s, 'ann', [entry(1, 2, { n: 1.5 })]) // updating an owned client id takes no new slot
    let error: unknown
    try {
      apply(s, 'ann', [entry(3, 1, { n: 3 })])
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(LimitError)
    expect((error as LimitError).code).toBe('ERR_LIMIT_AWARENESS_CLIENTS')
    expect((error as LimitError).closeCode).toBe(CloseCode.policyViolation)
    expect(present(s)).toEqual({ 1: [2, { n: 1.5 }], 2: [1, { n: 2 }] })
    apply(s, 'bob', [entry(3, 1, { n: 3 }), entry(4, 1, { n: 4 })]) // every owner has its own count
    expect(s.presentCount).toBe(4)
  })

  it('counts removed entries it keeps, so the table stays bounded, and frees them for another instance, whose removals are forgotten', () => {
    const s = table(2)
    apply(s, 'ann', [entry(1, 1, { n: 1 }), entry(2, 1, { n: 2 })])
    apply(s, 'ann', [entry(2, 2, null)])
    expect(() => apply(s, 'ann', [entry(3, 1, { n: 3 })])).toThrow(LimitError)

    const peer = table(2)
    apply(peer, 'other-instance', [entry(1, 1, { n: 1 }), entry(2, 1, { n: 2 })], { fromPeer: true })
    expect(apply(peer, 'other-instance', [entry(2, 2, null)], { fromPeer: true })).toBe(true)
    expect(peer.size).toBe(1)
    apply(peer, 'other-instance', [entry(3, 1, { n: 3 })], { fromPeer: true })
    expect(present(peer)).toEqual({ 1: [1, { n: 1 }], 3: [1, { n: 3 }] })
  })

  it('gives another instance its own, larger limit', () => {
    const s = table(1, 50)
    const many = (from: number): AwarenessEntry[] => Array.from({ length: 50 }, (_, i) => entry(from + i, 1, { i }))
    expect(() => apply(s, 'ann', many(1))).toThrow(LimitError)
    expect(apply(s, 'peer', many(101), { fromPeer: true })).toBe(true)
    expect(Object.keys(present(s, (o) => o === 'peer'))).toHaveLength(50)
    expect(() => apply(s, 'peer', [entry(999, 1, {})], { fromPeer: true })).toThrow(LimitError)
  })

  it('moves a client id to the owner that last set it', () => {
    const s = table(1)
    apply(s, 'ann', [entry(1, 1, { by: 'ann' })])
    apply(s, 'bob', [entry(1, 2, { by: 'bob' })]) // e.g. the client reconnected on another socket
    apply(s, 'ann', [entry(2, 1, { by: 'ann' })]) // ann's slot is free again
    expect(() => apply(s, 'bob', [entry(3, 1, {})])).toThrow(LimitError) // bob's one slot is taken
    expect(s.removeOwner('ann')).not.toBeNull()
    expect(present(s)).toEqual({ 1: [2, { by: 'bob' }] })
  })
})

describe('removeOwner', () => {
  it('forgets what the owner set and announces it to stock clients as removed', () => {
    const s = table(4)
    apply(s, 'ann', [entry(1, 4, { name: 'Ann' }), entry(2, 1, { name: 'Ann, 2nd tab' })])
    apply(s, 'ann', [entry(2, 2, null)])
    apply(s, 'bob', [entry(3, 1, { name: 'Bob' })])
    const stock = stockAwareness()
    try {
      awarenessProtocol.applyAwarenessUpdate(stock.awareness, s.encodeAll()!, 'server')
      expect(stock.remote()).toEqual({ 1: { name: 'Ann' }, 3: { name: 'Bob' } })

      const removal = s.removeOwner('ann')!
      // Only the present state is announced, one clock past what clients have.
      expect(decodeAwarenessUpdate(removal)).toEqual([{ clientId: 1, clock: 5, state: REMOVED_STATE }])
      awarenessProtocol.applyAwarenessUpdate(stock.awareness, removal, 'server')
      expect(stock.remote()).toEqual({ 3: { name: 'Bob' } })
    } finally {
      stock.destroy()
    }
    expect(s.size).toBe(1)
    expect(s.removeOwner('ann')).toBeNull() // nothing left to announce
    apply(s, 'ann', [entry(5, 1, {}), entry(6, 1, {}), entry(7, 1, {}), entry(8, 1, {})]) // all four slots free again
  })

  it('returns null for an owner whose states were all removed already', () => {
    const s = table(4)
    apply(s, 'ann', [entry(1, 1, {})])
    apply(s, 'ann', [entry(1, 2, null)])
    expect(s.removeOwner('ann')).toBeNull()
    expect(s.size).toBe(0)
  })
})

describe('encodeAll', () => {
  it('holds every present state with its clock, of the owners include accepts, and is null when there is none', () => {
    const s = table(4)
    expect(s.encodeAll()).toBeNull()
    apply(s, 'ann', [entry(1, 3, { a: 1 }), entry(2, 1, { a: 2 })])
    apply(s, 'ann', [entry(2, 2, null)])
    apply(s, 'bob', [entry(3, 7, { b: 1 })])
    expect(present(s)).toEqual({ 1: [3, { a: 1 }], 3: [7, { b: 1 }] })
    expect(present(s, (o) => o !== 'ann')).toEqual({ 3: [7, { b: 1 }] })
    expect(s.encodeAll((o) => o === 'nobody')).toBeNull()
    expect(s.presentCount).toBe(2)
    expect(s.size).toBe(3)
  })
})
