/**
 * The admin API for per-document grants, on when ADMIN_TOKEN is set (every request must carry
 * `Authorization: Bearer <ADMIN_TOKEN>`; compared in constant time). Document and user travel
 * as query parameters or a JSON body, since document names may contain slashes.
 *
 *   GET    /admin/access?document=NAME                    -> { document, grants: [{ userId, role, grantedAt }] }
 *   PUT    /admin/access  { document, user, role }         -> 204, or 409 when it would demote the last owner
 *   DELETE /admin/access?document=NAME&user=ID            -> 204, 404 when there was no grant, or 409 for the last owner
 *
 * Changes apply to connections opened afterwards; open ones keep the access they were given.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { userIdProblem } from '../auth/user-id.js'
import type { Logger } from '../log.js'
import { isRole, lastOwnerProblem, ROLES } from '../roles.js'
import type { DocumentStore } from '../storage/types.js'
import { sendJson, type HttpRoute } from './routes.js'

const MAX_BODY_BYTES = 16 * 1024

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

async function readJson (req: IncomingMessage): Promise<unknown> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new Error('body too large')
    chunks.push(chunk as Buffer)
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

/** @param nameProblem the server's document-name rule: why a name is refused, or null. */
export function adminRoutes (adminToken: string, store: DocumentStore, log: Logger, nameProblem: (name: string) => string | null): HttpRoute[] {
  const expected = digest(adminToken)
  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization ?? ''
    const given = /^bearer\s+/i.test(header) ? header.replace(/^bearer\s+/i, '') : ''
    // Hashing both sides gives equal lengths for the constant-time compare.
    return given !== '' && timingSafeEqual(digest(given), expected)
  }
  const guard = (handler: (req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => Promise<void>) =>
    async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      if (!authorized(req)) {
        log.warn({ path: '/admin/access', method: req.method, remoteAddress: req.socket.remoteAddress }, 'admin request refused')
        sendJson(res, 401, { error: 'unauthorized' })
        return
      }
      await handler(req, res, new URL(req.url ?? '/', 'http://localhost').searchParams)
    }
  const badDocument = (res: ServerResponse, name: string | null): boolean => {
    const problem = name === null ? 'document is required' : nameProblem(name)
    if (problem !== null) sendJson(res, 400, { error: problem })
    return problem !== null
  }
  return [
    {
      method: 'GET',
      path: '/admin/access',
      handler: guard(async (_req, res, q) => {
        const document = q.get('document')
        if (badDocument(res, document)) return
        const grants = await store.listGrants(document!)
        sendJson(res, 200, { document, grants: grants.map(({ userId, role, grantedAt }) => ({ userId, role, grantedAt })) })
      }),
    },
    {
      method: 'PUT',
      path: '/admin/access',
      handler: guard(async (req, res) => {
        let body: { document?: unknown, user?: unknown, role?: unknown }
        try {
          body = await readJson(req) as typeof body
        } catch {
          sendJson(res, 400, { error: 'expected a JSON body { document, user, role }' })
          return
        }
        const document = typeof body?.document === 'string' ? body.document : null
        if (badDocument(res, document)) return
        if (typeof body.user !== 'string' || body.user === '') return sendJson(res, 400, { error: 'user is required' })
        const badUser = userIdProblem(body.user)
        if (badUser !== null) return sendJson(res, 400, { error: badUser })
        if (!isRole(body.role)) return sendJson(res, 400, { error: `role must be one of ${ROLES.join(', ')}` })
        const lastOwner = lastOwnerProblem(document!, await store.listGrants(document!), { userId: body.user, role: body.role })
        if (lastOwner !== null) return sendJson(res, 409, { error: lastOwner })
        await store.grant(document!, body.user, body.role)
        log.info({ document, userId: body.user, role: body.role }, 'access granted')
        res.writeHead(204).end()
      }),
    },
    {
      method: 'DELETE',
      path: '/admin/access',
      handler: guard(async (_req, res, q) => {
        const document = q.get('document')
        const user = q.get('user')
        if (badDocument(res, document)) return
        if (user === null || user === '') return sendJson(res, 400, { error: 'user is required' })
        const lastOwner = lastOwnerProblem(document!, await store.listGrants(document!), { userId: user, role: null })
        if (lastOwner !== null) return sendJson(res, 409, { error: lastOwner })
        const removed = await store.revoke(document!, user)
        if (removed) log.info({ document, userId: user }, 'access revoked')
        if (removed) res.writeHead(204).end()
        else sendJson(res, 404, { error: 'no such grant' })
      }),
    },
  ]
}
