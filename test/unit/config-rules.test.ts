/**
 * The two lists of settings stay one: every environment variable ENVIRONMENT documents has a
 * rule, and every rule a documented variable (a rule without an entry would read a variable
 * no doc, --help or .env.example mentions, and its default would be missing).
 */
import { describe, expect, it } from 'vitest'
import { ENVIRONMENT } from '../../src/config.js'
import { schema } from '../../src/config-rules.js'

describe('configuration rules', () => {
  it('has exactly one rule per documented environment variable', () => {
    expect(Object.keys(schema.shape).sort()).toEqual(ENVIRONMENT.map((s) => s.name).sort())
    expect(new Set(ENVIRONMENT.map((s) => s.name)).size).toBe(ENVIRONMENT.length)
  })

  it('accepts every documented default', () => {
    const defaults = Object.fromEntries(ENVIRONMENT.map((s) => [s.name, s.default]))
    const parsed = schema.safeParse(defaults)
    expect(parsed.success ? [] : parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`)).toEqual([])
  })
})
