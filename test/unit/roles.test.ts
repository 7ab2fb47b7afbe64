/**
 * The role list and the last-owner rule (src/roles.ts), which the admin API and the CLI both
 * apply to grant and revoke.
 */
import { describe, expect, it } from 'vitest'
import { isRole, lastOwnerProblem, ROLES } from '../../src/roles.js'

describe('roles', () => {
  it('are owner, admin, editor and viewer, and nothing looser', () => {
    expect(ROLES).toEqual(['owner', 'admin', 'editor', 'viewer'])
    for (const role of ROLES) expect(isRole(role)).toBe(true)
    for (const other of ['user', 'Owner', ' editor', '', null, undefined, 1, 'toString', '__proto__']) expect(isRole(other)).toBe(false)
  })
})

describe('the last-owner rule', () => {
  const alone = [{ userId: 'ann', role: 'owner' }, { userId: 'bob', role: 'editor' }]

  it('refuses revoking the only owner, and changing their grant to any other role', () => {
    expect(lastOwnerProblem('plan', alone, { userId: 'ann', role: null })).toBe('ann is the last owner of "plan": grant another owner first')
    for (const role of ['admin', 'editor', 'viewer'] as const) expect(lastOwnerProblem('plan', alone, { userId: 'ann', role })).not.toBeNull()
  })

  it('allows everything else: granting owner again, changing or revoking others, and any change once there is a second owner', () => {
    expect(lastOwnerProblem('plan', alone, { userId: 'ann', role: 'owner' })).toBeNull()
    expect(lastOwnerProblem('plan', alone, { userId: 'bob', role: null })).toBeNull()
    expect(lastOwnerProblem('plan', alone, { userId: 'bob', role: 'viewer' })).toBeNull()
    expect(lastOwnerProblem('plan', [], { userId: 'ann', role: 'viewer' })).toBeNull()
    const two = [...alone, { userId: 'cy', role: 'owner' }]
    expect(lastOwnerProblem('plan', two, { userId: 'ann', role: 'editor' })).toBeNull()
    expect(lastOwnerProblem('plan', two, { userId: 'ann', role: null })).toBeNull()
  })
})
