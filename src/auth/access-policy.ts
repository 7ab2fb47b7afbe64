/**
 * Who may do what with a document, by role and per-document grants.
 *
 * Roles (src/roles.ts): owner, admin and editor read and write, viewer reads. A role collabd
 * does not know, or none, counts as DEFAULT_ROLE. A credential limited to some documents
 * (DocumentScope) opens nothing else. Anonymous principals exist only when authentication is
 * off, and then everyone writes.
 *
 * ACCESS_POLICY decides how grants (the `document_access` table) combine with roles:
 *   grants-or-role  a document with grants is open to its grantees only, with their granted
 *                   role; a document without grants is open by role (default)
 *   grants          only grantees, even on documents without grants
 *   role            roles only; grants are ignored
 * Under the grant policies, users whose own role is owner or admin still write everywhere: they
 * administer the server. With OWNER_ON_CREATE, the first user who can write to a document that
 * does not exist yet becomes its owner (so under grants-or-role new documents start private).
 */
import type { AccessPolicy } from '../config.js'
import type { Role } from '../roles.js'
import type { Access, Authorizer, DocumentScope, GrantStore, Principal } from './types.js'

const ROLE_ACCESS: Readonly<Record<Role, Access>> = { owner: 'write', admin: 'write', editor: 'write', viewer: 'read' }

export function inScope (scope: DocumentScope | null | undefined, documentName: string): boolean {
  if (scope === null || scope === undefined) return true
  if (scope.names !== null && !scope.names.has(documentName)) return false
  if (scope.prefix !== null && !documentName.startsWith(scope.prefix)) return false
  return true
}

export interface AccessOptions {
  readonly defaultRole: Role
  readonly policy: AccessPolicy
  readonly ownerOnCreate: boolean
}

export class RoleAuthorizer implements Authorizer {
  constructor (private readonly options: AccessOptions, private readonly grants: GrantStore | null = null) {}

  async authorize (principal: Principal, documentName: string): Promise<Access> {
    if (!inScope(principal.scope, documentName)) return 'none'
    if (principal.anonymous) return 'write'
    const role = this.roleOf(principal)
    const byRole = ROLE_ACCESS[role]
    const { policy, ownerOnCreate } = this.options
    if (policy === 'role' || this.grants === null) return byRole
    if (role === 'owner' || role === 'admin') return 'write'
    let grants = await this.grants.listGrants(documentName)
    if (grants.length === 0 && ownerOnCreate && byRole === 'write' && principal.userId !== null) {
      // A new document is claimed by its first writer. A failed claim means someone else got
      // there first (or the document predates grants): read the grants again either way.
      if (await this.grants.claimOwnership(documentName, principal.userId)) return 'write'
      grants = await this.grants.listGrants(documentName)
    }
    if (grants.length > 0) {
      const mine = grants.find((g) => g.userId === principal.userId)
      return mine === undefined || !Object.hasOwn(ROLE_ACCESS, mine.role) ? 'none' : ROLE_ACCESS[mine.role as Role]
    }
    // No grants: a document from before grants (or created anonymously).
    return policy === 'grants' ? 'none' : byRole
  }

  private roleOf (principal: Principal): Role {
    const r = principal.role
    return r !== null && Object.hasOwn(ROLE_ACCESS, r) ? r as Role : this.options.defaultRole
  }
}
