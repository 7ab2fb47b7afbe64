import { describe, expect, it } from 'vitest'
import { jsonDeeperThan } from '../../src/protocol/json-depth.js'

describe('jsonDeeperThan', () => {
  it('counts arrays and objects, not scalars', () => {
    expect(jsonDeeperThan('1', 0)).toBe(false)
    expect(jsonDeeperThan('"x"', 0)).toBe(false)
    expect(jsonDeeperThan('[]', 0)).toBe(true)
    expect(jsonDeeperThan('[]', 1)).toBe(false)
    expect(jsonDeeperThan('{"a":[{"b":1}]}', 3)).toBe(false)
    expect(jsonDeeperThan('{"a":[{"b":1}]}', 2)).toBe(true)
    expect(jsonDeeperThan('[[],[],[[]]]', 3)).toBe(false)
  })

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonDeeperThan('{"a":"[[[[\\"[[[["}', 1)).toBe(false)
    expect(jsonDeeperThan('["\\\\",[[]]]', 2)).toBe(true)
  })

  it('finds nesting that JSON.parse accepts and JSON.stringify cannot write back', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000)
    expect(() => JSON.stringify(JSON.parse(deep))).toThrow(RangeError)
    expect(jsonDeeperThan(deep, 100)).toBe(true)
    const fine = '['.repeat(100) + ']'.repeat(100)
    expect(jsonDeeperThan(fine, 100)).toBe(false)
    expect(JSON.stringify(JSON.parse(fine))).toBe(fine)
  })
})
