/**
 * Deciding whether a connection may open a document: name check, then authentication, then
 * authorization. Runs once per connection (per document on a multiplexed Hocuspocus socket),
 * before the document is loaded, so a refused client never causes a storage read.
 */
import type { Credentials, Principal } from '../auth/types.js'
import { userIdProblem } from '../auth/user-id.js'
import { documentNameProblem } from '../documents/names.js'
import type { Config } from '../config.js'
import { CloseCode, type CloseCodeValue } from '../errors.js'
import type { ServerContext } from './context.js'

export type Admission =
  | { readonly ok: true, readonly principal: Principal, readonly readOnly: boolean }
  /** `publicReason` may be shown to the client; `logReason` only goes to the log. */
  | { readonly ok: false, readonly closeCode: CloseCodeValue, readonly publicReason: string, readonly logReason: string, readonly userId?: string | null }

const PATTERN_MISMATCH = 'document name does not match DOCUMENT_NAME_PATTERN'

/** Why `name` is refused by the built-in rule or DOCUMENT_NAME_PATTERN, or null when it is fine. */
export function nameProblem (config: Config, name: string): string | null {
  return documentNameProblem(name) ?? (config.documentNamePattern !== null && !config.documentNamePattern.test(name) ? PATTERN_MISMATCH : null)
}

/**
 * Whether any credential is longer than `maxBytes`. Checked before any authenticator sees it,
 * so no oversized token is verified, looked up or cached. (Headers and the query string are
 * already bounded by Node's 16 KiB header limit; a Hocuspocus token message only by
 * MAX_MESSAGE_BYTES.) UTF-8 takes at most 3 bytes per UTF-16 code unit, so the exact count is
 * needed only near the bound.
 */
function oversizedCredential (credentials: Credentials, maxBytes: number): boolean {
  const tooLong = (v: string | null): boolean => v !== null && v.length > maxBytes / 3 && Buffer.byteLength(v) > maxBytes
  if (tooLong(credentials.hocuspocusToken) || tooLong(credentials.bearerToken) || tooLong(credentials.queryToken)) return true
  for (const v of credentials.cookies.values()) if (tooLong(v)) return true
  return false
}

export async function admit (ctx: ServerContext, credentials: Credentials, documentName: string): Promise<Admission> {
  const problem = nameProblem(ctx.config, documentName)
  if (problem !== null) {
    // The pattern is the operator's business; the built-in reasons are safe to show.
    const publicReason = problem === PATTERN_MISMATCH ? 'invalid document name' : problem
    return { ok: false, closeCode: CloseCode.policyViolation, publicReason, logReason: problem }
  }
  if (oversizedCredential(credentials, ctx.config.maxTokenBytes)) {
    return { ok: false, closeCode: CloseCode.unauthorized, publicReason: 'authentication failed', logReason: `token larger than MAX_TOKEN_BYTES (${ctx.config.maxTokenBytes})` }
  }
  let principal: Principal
  try {
    const result = await ctx.authenticator.authenticate(credentials)
    if (!result.ok) return { ok: false, closeCode: CloseCode.unauthorized, publicReason: 'authentication failed', logReason: result.reason, userId: result.userId ?? null }
    principal = result.principal
    const badId = principal.userId === null ? null : userIdProblem(principal.userId)
    if (badId !== null) return { ok: false, closeCode: CloseCode.unauthorized, publicReason: 'authentication failed', logReason: badId }
  } catch (err) {
    ctx.log.error({ err, document: documentName }, 'authenticator failed')
    return { ok: false, closeCode: CloseCode.unauthorized, publicReason: 'authentication failed', logReason: 'authenticator error' }
  }
  try {
    const access = await ctx.authorizer.authorize(principal, documentName)
    if (access === 'none') return { ok: false, closeCode: CloseCode.forbidden, publicReason: 'access denied', logReason: 'no access to document', userId: principal.userId }
    return { ok: true, principal, readOnly: access === 'read' }
  } catch (err) {
    ctx.log.error({ err, document: documentName }, 'authorizer failed; denying')
    return { ok: false, closeCode: CloseCode.forbidden, publicReason: 'access denied', logReason: `authorizer error: ${(err as Error)?.message ?? String(err)}`, userId: principal.userId }
  }
}
