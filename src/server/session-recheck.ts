/**
 * Re-checking the sessions of open connections (Better Auth): every SESSION_RECHECK_MS, one
 * batched lookup of every session in use; each connection whose session ended (signed out,
 * expired, user banned) gets the permission-denied message and is closed with 4401.
 *
 * If the lookup itself fails (the auth database is down), open connections stay: they were
 * valid, and the next round checks again. New connections fail closed meanwhile.
 */
import type { Authenticator } from '../auth/types.js'
import type { Logger } from '../log.js'

/** A connection's view for the re-check: the sessions it holds and how to end one. */
export interface SessionHolder {
  /** Better Auth session tokens (Principal.authSession) of this connection's open documents. */
  authSessions (): Iterable<string>
  /** The session ended: end what uses it. */
  revokeAuthSession (token: string): void
}

/** Starts the periodic re-check. @returns a function that stops it. */
export function startSessionRecheck (authenticator: Authenticator, holders: Iterable<SessionHolder>, intervalMs: number, log: Logger): () => void {
  const revoked = authenticator.revoked?.bind(authenticator)
  if (revoked === undefined || intervalMs === 0) return () => {}
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    void recheckOnce(revoked, holders, log).finally(() => { running = false })
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}

export async function recheckOnce (revoked: (sessions: readonly string[]) => Promise<ReadonlySet<string>>, holders: Iterable<SessionHolder>, log: Logger): Promise<number> {
  const inUse = new Set<string>()
  for (const h of holders) for (const s of h.authSessions()) inUse.add(s)
  if (inUse.size === 0) return 0
  let ended: ReadonlySet<string>
  try {
    ended = await revoked([...inUse])
  } catch (err) {
    log.warn({ err: (err as Error).message, sessions: inUse.size }, 'session re-check failed; open connections stay until the next one')
    return 0
  }
  if (ended.size === 0) return 0
  let closed = 0
  for (const h of [...holders]) {
    for (const s of [...h.authSessions()]) {
      if (!ended.has(s)) continue
      h.revokeAuthSession(s)
      closed++
    }
  }
  return closed
}
