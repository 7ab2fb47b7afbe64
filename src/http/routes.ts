/**
 * HTTP routes as a small table, not a chain of ifs: `/health` and, with ADMIN_TOKEN, the admin
 * API are its rows (server.ts builds the table).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

export interface HttpRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  readonly path: string
  readonly handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void
}

export function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}

/**
 * Builds a request handler for `routes`. It answers matched requests (405 for a known path
 * with another method) and returns false for unknown paths, so an embedding app can serve them.
 */
export function createRouter (routes: readonly HttpRoute[]): (req: IncomingMessage, res: ServerResponse) => boolean {
  const byPath = new Map<string, HttpRoute[]>()
  for (const route of routes) byPath.set(route.path, [...(byPath.get(route.path) ?? []), route])
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!
    const candidates = byPath.get(path)
    if (candidates === undefined) return false
    const route = candidates.find((r) => r.method === req.method || (req.method === 'HEAD' && r.method === 'GET'))
    if (route === undefined) {
      res.writeHead(405, { allow: candidates.map((r) => r.method).join(', ') })
      res.end()
      return true
    }
    Promise.resolve(route.handler(req, res)).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' })
      else res.destroy()
    })
    return true
  }
}

/** The answer for paths no route claims. */
export function notFound (res: ServerResponse): void {
  sendJson(res, 404, { error: 'not found' })
}
