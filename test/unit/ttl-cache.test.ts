import { describe, expect, it } from 'vitest'
import { TtlCache } from '../../src/auth/ttl-cache.js'
import { documentNameProblem } from '../../src/documents/names.js'
import { userIdProblem } from '../../src/auth/user-id.js'

describe('TtlCache', () => {
  it('drops expired entries on its own, without the same key coming again', () => {
    const c = new TtlCache<number>()
    for (let i = 0; i < 100; i++) c.set(`k${i}`, i, 1000 + i, 0)
    expect(c.size).toBe(100)
    c.set('late', 1, 5000, 1050)
    expect(c.size).toBe(50) // k0..k50 expired by t=1050 and were swept; k51..k99 and late remain
  })

  it('stays within its byte bound, the oldest going first, and never keeps a key larger than the bound', () => {
    const c = new TtlCache<number>({ maxEntries: 1000, maxBytes: 64 * 1024 })
    for (let i = 0; i < 100; i++) c.set(String(i).padEnd(4096, 'x'), i, 10_000, 0)
    expect(c.heldBytes).toBeLessThanOrEqual(64 * 1024)
    expect(c.get(String(99).padEnd(4096, 'x'), 1)).toBe(99)
    expect(c.get(String(0).padEnd(4096, 'x'), 1)).toBeUndefined()
    c.set('y'.repeat(40_000), 1, 10_000, 0)
    expect(c.get('y'.repeat(40_000), 1)).toBeUndefined()
  })
})

describe('names and user ids the stores keep exact', () => {
  it.each([
    ['x/../cafe', 'document name contains a . or .. segment'],
    ['..', 'document name contains a . or .. segment'],
    ['./cafe', 'document name contains a . or .. segment'],
    ['cafe/.', 'document name contains a . or .. segment'],
    ['\uFEFFcafe', 'document name contains U+FEFF'],
    ['caf\ud800', 'document name is not well-formed Unicode'],
  ])('refuses the name %j', (name, reason) => {
    expect(documentNameProblem(name)).toBe(reason)
  })

  it.each(['cafe', 'a.b/c..d/...', '.hidden', 'x/..y', 'émoji 😀'])('accepts the name %j', (name) => {
    expect(documentNameProblem(name)).toBeNull()
  })

  it('refuses user ids with a lone surrogate, accepts paired ones', () => {
    expect(userIdProblem('u\ud800')).toBe('user id is not well-formed Unicode')
    expect(userIdProblem('u\udc00x')).toBe('user id is not well-formed Unicode')
    expect(userIdProblem('u😀')).toBeNull()
  })
})
