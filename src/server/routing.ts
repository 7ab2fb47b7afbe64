/**
 * Which protocol an upgrade request speaks, from its path alone:
 *
 *   <wsPath>             Hocuspocus (documents are named inside the frames)
 *   <wsPath>/<document>  y-websocket (the rest of the path, URL-decoded, is the document name)
 *
 * Later protocols (the JSON protocol, custom channels) add routes here.
 */
export type Route =
  | { readonly protocol: 'hocuspocus' }
  | { readonly protocol: 'y-websocket', readonly documentName: string }
  | { readonly protocol: 'invalid', readonly reason: string }

/** @returns the route, or null when the path is not under `wsPath` (not ours to answer). */
export function routeUpgrade (pathname: string, wsPath: string): Route | null {
  const base = wsPath === '/' ? '' : wsPath
  if (pathname === base || pathname === base + '/') return { protocol: 'hocuspocus' }
  if (!pathname.startsWith(base + '/')) return null
  const raw = pathname.slice(base.length + 1)
  try {
    return { protocol: 'y-websocket', documentName: decodeURIComponent(raw) }
  } catch {
    return { protocol: 'invalid', reason: 'document name is not valid percent-encoding' }
  }
}
