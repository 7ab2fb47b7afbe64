/**
 * The roles a credential (JWT claim, Better Auth user row) or a per-document grant can name,
 * and the one rule about grants that the admin API and the CLI share. A top-level module, so
 * every layer may import it (storage stores grants, auth decides by roles, http and the CLI
 * manage grants). What each role may do is the access policy's business (auth/access-policy.ts).
 *
 * The SQL CHECK constraints in the migrations spell the same list; migrations are history and
 * stay as they were written.
 */

/** owner, admin and editor read and write; viewer reads (docs/configuration.md, "Roles"). */
export const ROLES = ['owner', 'admin', 'editor', 'viewer'] as const
export type Role = typeof ROLES[number]

/** Whether `value` is one of ROLES (for input from tokens, requests and the command line). */
export function isRole (value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value)
}

/** One user's grant on a document, as far as the last-owner rule needs it. */
export interface GrantLike {
  readonly userId: string
  readonly role: string
}

/**
 * The last-owner rule: a document that has an owner keeps one. The owner is who admins and apps
 * look up for a document, and under ACCESS_POLICY=grants a document whose grants lose their
 * owner may be left to its other grantees or to server admins only. So neither revoking the
 * only owner's grant nor changing it to another role is allowed; grant another owner first.
 *
 * Checked, then changed (two admins demoting the two owners of one document at the same instant
 * could both pass); grants are changed by people, rarely and one at a time.
 *
 * @param grants the document's grants now
 * @param change the user whose grant changes, and the role it becomes (null: revoked)
 * @returns a one-line reason to refuse the change, or null when it may go ahead
 */
export function lastOwnerProblem (document: string, grants: readonly GrantLike[], change: { readonly userId: string, readonly role: Role | null }): string | null {
  if (change.role === 'owner') return null
  const owners = grants.filter((g) => g.role === 'owner')
  if (owners.length !== 1 || owners[0]!.userId !== change.userId) return null
  return `${change.userId} is the last owner of "${document}": grant another owner first`
}
