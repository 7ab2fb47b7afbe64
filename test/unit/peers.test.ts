/**
 * Other instances' unconfirmed updates (documents/peers.ts): dropped once confirmed (older
 * epochs too) and handed over for writing otherwise. What a room does with peers is in
 * room-peers.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { UnconfirmedUpdates } from '../../src/documents/peers.js'

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b)

describe('unconfirmed updates', () => {
  it('drops what the peer confirms, older epochs included, and hands over the rest', () => {
    const held = new UnconfirmedUpdates()
    held.hold('p', 1, 1, bytes(1))
    held.hold('p', 1, 2, bytes(2, 2))
    held.hold('p', 2, 1, bytes(3))
    held.hold('q', 5, 9, bytes(4))
    expect(held.bytes).toBe(5)
    held.confirm('p', 1, 1)
    expect(held.take('p')).toEqual([bytes(2, 2), bytes(3)])
    held.hold('p', 2, 2, bytes(5))
    held.confirm('p', 3, 0) // a later epoch: everything before it is durable
    expect(held.take('p')).toEqual([])
    expect(held.take()).toEqual([bytes(4)])
    expect(held.size).toBe(0)
    expect(held.bytes).toBe(0)
  })
})
