/**
 * Who may do what with a document: the role a credential names, per-document grants (the
 * `document_access` table), and ACCESS_POLICY, which says how the two combine.
 *
 * Roles (src/roles.ts): owner, admin and editor read and write, viewer reads. A role collabd
 * does not know, or none, counts as DEFAULT_ROLE. A credential limited to some documents
 * (DocumentScope) opens nothing else. Anonymous principals exist only when authentication is
 * off, and then everyone writes.
 *
 *   role-plus-grants  (default) roles decide; a grant adds rights on its document (a viewer
 *                     granted editor writes there) and never takes any away, so no document is
 *                     closed to a role that admits it
 *   grants            private documents: a document is open to its grantees only, each with
 *                     the granted role; one without grants is open to nobody (new ones are
 *                     claimed by their creator, below)
 *   role              roles only; grants are neither read nor written
 *
 * Under both grant policies, users whose own role is owner or admin write everywhere: they
 * administer the server (and claim nothing). With OWNER_ON_CREATE, the first other user who may
 * write by role and opens a document that does not exist yet is recorded as its owner (a
 * grant): under role-plus-grants that is a record of who created it (and keeps them writing if
 * their role changes), under grants it is what makes the document theirs. Grants are read on
 * every admission that can use them (a writer by role under role-plus-grants skips the read
 * when OWNER_ON_CREATE is off); nothing here runs per message.
 *
 * An earlier default, grants-or-role, opened a document that had any grant to its grantees
 * only; with OWNER_ON_CREATE that was every new document, so a team's viewers and second
 * editors were refused whatever their tokens said. config.ts refuses that value by name.
 */
import type { AccessPolicy } from '../config.js'
import type { Logger } from '../log.js'
import { isRole, type Role } from '../roles.js'
import type { Access, Authorizer, DocumentScope, GrantStore, Principal } from './types.js'

type GrantList = Awaited<ReturnType<GrantStore['listGrants']>>

const ROLE_ACCESS: Readonly<Record<Role, Access>> = { owner: 'write', admin: 'write', editor: 'write', viewer: 'read' }
const RANK: Readonly<Record<Access, number>> = { none: 0, read: 1, write: 2 }

/** The wider of two accesses. */
const wider = (a: Access, b: Access): Access => RANK[a] >= RANK[b] ? a : b

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

/** The Authorizer used unless AUTHORIZE_URL hands the decision to the app. */
export class PolicyAuthorizer implements Authorizer {
  /**
   * @param grants the store's grants; null: roles only, whatever the policy says.
   * @param log where a store that cannot be read is reported
   */
  constructor (private readonly options: AccessOptions, private readonly grants: GrantStore | null, private readonly log: Pick<Logger, 'warn'>) {}

  async authorize (principal: Principal, documentName: string): Promise<Access> {
    if (!inScope(principal.scope, documentName)) return 'none'
    if (principal.anonymous) return 'write'
    const role = this.roleOf(principal)
    const byRole = ROLE_ACCESS[role]
    const { policy, ownerOnCreate } = this.options
    if (policy === 'role' || this.grants === null) return byRole
    if (role === 'owner' || role === 'admin') return 'write'
    // A writer by role gains nothing from a grant; only the creator record needs the store.
    if (policy === 'role-plus-grants' && byRole === 'write' && !ownerOnCreate) return 'write'
    let grants: GrantList
    try {
      grants = await this.grantsAfterClaim(principal, documentName, byRole)
    } catch (err) {
      // Under grants, a document whose grants cannot be read stays shut (admission denies and
      // logs). Under role-plus-grants a grant only adds, so the role's access is never more
      // than the policy gives: a store outage costs a user their grant, never their role.
      if (policy !== 'role-plus-grants') throw err
      this.log.warn({ err, document: documentName, userId: principal.userId }, 'grants could not be read; access by role alone')
      return byRole
    }
    const mine = grants.find((g) => g.userId === principal.userId)
    const byGrant = mine !== undefined && isRole(mine.role) ? ROLE_ACCESS[mine.role] : 'none'
    return policy === 'role-plus-grants' ? wider(byRole, byGrant) : byGrant
  }

  /**
   * The document's grants, after recording `principal` as the owner of a new document when
   * OWNER_ON_CREATE asks for it and their role lets them write.
   */
  private async grantsAfterClaim (principal: Principal, documentName: string, byRole: Access): Promise<GrantList> {
    const grants = await this.grants!.listGrants(documentName)
    const userId = principal.userId
    if (grants.length > 0 || !this.options.ownerOnCreate || byRole !== 'write' || userId === null) return grants
    if (await this.grants!.claimOwnership(documentName, userId)) return [{ userId, role: 'owner' }]
    // A failed claim means someone else got there first, or the document predates grants:
    // read the grants again either way.
    return await this.grants!.listGrants(documentName)
  }

  private roleOf (principal: Principal): Role {
    return isRole(principal.role) ? principal.role : this.options.defaultRole
  }
}
