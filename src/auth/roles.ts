/**
 * Access by role (seed 000's table): owner, admin and editor read and write, viewer reads. A
 * role collabd does not know, or none, counts as DEFAULT_ROLE. A credential limited to some
 * documents (DocumentScope) opens nothing else. Anonymous principals exist only when
 * authentication is off, and then everyone writes.
 */
import type { Role } from '../config.js'
import type { Access, Authorizer, DocumentScope, Principal } from './types.js'

const ROLE_ACCESS: Readonly<Record<Role, Access>> = { owner: 'write', admin: 'write', editor: 'write', viewer: 'read' }

export function inScope (scope: DocumentScope | null | undefined, documentName: string): boolean {
  if (scope === null || scope === undefined) return true
  if (scope.names !== null && !scope.names.has(documentName)) return false
  if (scope.prefix !== null && !documentName.startsWith(scope.prefix)) return false
  return true
}

export class RoleAuthorizer implements Authorizer {
  constructor (private readonly defaultRole: Role) {}

  async authorize (principal: Principal, documentName: string): Promise<Access> {
    return this.access(principal, documentName)
  }

  /** Synchronous core, for callers that decide many documents at once. */
  access (principal: Principal, documentName: string): Access {
    if (!inScope(principal.scope, documentName)) return 'none'
    if (principal.anonymous) return 'write'
    const role = principal.role !== null && Object.hasOwn(ROLE_ACCESS, principal.role) ? principal.role as Role : this.defaultRole
    return ROLE_ACCESS[role]
  }
}
