/**
 * Reading Better Auth sessions where the app stores them, read-only: its `"session"` table
 * (token, "expiresAt", "userId") joined to `"user"` (with role, banned, "banExpires" when the
 * admin plugin added them), in PostgreSQL or SQLite; or by asking the app itself over HTTP
 * (`/api/auth/get-session`). collabd never writes these tables: Better Auth's own getSession
 * extends and deletes sessions, which is the app's business.
 */
import Database from 'better-sqlite3'
import pg from 'pg'

export interface SessionRecord {
  readonly token: string
  readonly userId: string
  /** ms since epoch */
  readonly expiresAt: number
  readonly role: string | null
  readonly banned: boolean
  /** ms since epoch; null: banned for good (when banned) */
  readonly banExpires: number | null
  readonly name: string | null
  readonly email: string | null
}

/** A token whose lookup failed (the app did not answer): neither valid nor ended. */
export const UNAVAILABLE = 'unavailable'

export interface SessionSource {
  /**
   * The sessions among `tokens` that exist (valid or not: the caller decides); UNAVAILABLE for
   * tokens that could not be looked up. Throws when nothing could be looked up.
   */
  find (tokens: readonly string[]): Promise<Map<string, SessionRecord | typeof UNAVAILABLE>>
  close (): Promise<void>
}

const time = (v: unknown): number | null => {
  if (v === null || v === undefined) return null
  if (v instanceof Date) return v.getTime()
  if (typeof v === 'number') return v < 1e11 ? v * 1000 : v
  const t = Date.parse(String(v))
  return Number.isNaN(t) ? null : t
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null)

function record (row: Record<string, unknown>): SessionRecord | null {
  const expiresAt = time(row.expiresAt)
  if (typeof row.token !== 'string' || typeof row.userId !== 'string' || expiresAt === null) return null
  return {
    token: row.token,
    userId: row.userId,
    expiresAt,
    role: str(row.role),
    banned: row.banned === true || row.banned === 1 || row.banned === '1' || row.banned === 'true',
    banExpires: time(row.banExpires),
    name: str(row.name),
    email: str(row.email),
  }
}

/** `u.*` rather than named columns: role and banned exist only with Better Auth's admin plugin. */
const SELECT = 'SELECT u.*, s.token AS token, s."expiresAt" AS "expiresAt", s."userId" AS "userId" FROM "session" s JOIN "user" u ON u.id = s."userId"'

export class PostgresSessions implements SessionSource {
  private readonly pool: pg.Pool

  constructor (url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000, statement_timeout: 5000 } as pg.PoolConfig)
    // An idle client losing its connection must not crash the process; the next query reconnects.
    this.pool.on('error', () => {})
  }

  async find (tokens: readonly string[]): Promise<Map<string, SessionRecord>> {
    const found = new Map<string, SessionRecord>()
    if (tokens.length === 0) return found
    // Named: prepared once per pooled connection.
    const { rows } = await this.pool.query({ name: 'collabd-better-auth-sessions', text: `${SELECT} WHERE s.token = ANY($1::text[])`, values: [tokens] })
    for (const row of rows as Array<Record<string, unknown>>) {
      const r = record(row)
      if (r !== null) found.set(r.token, r)
    }
    return found
  }

  async close (): Promise<void> {
    await this.pool.end()
  }
}

/** SQLite lookups are indexed reads of a few rows: synchronous, tens of microseconds each. */
export class SqliteSessions implements SessionSource {
  private db: Database.Database | null = null
  /** Prepared lookups by number of tokens (1 for an admission, up to 500 for a re-check). */
  private readonly lookups = new Map<number, Database.Statement>()

  constructor (private readonly path: string) {}

  async find (tokens: readonly string[]): Promise<Map<string, SessionRecord>> {
    const found = new Map<string, SessionRecord>()
    // A short busy timeout: these reads run on the event loop, and an app's write lock must not
    // freeze the server (a locked database fails this check; it is retried on the next one).
    this.db ??= new Database(this.path, { readonly: true, fileMustExist: true, timeout: 50 })
    for (let i = 0; i < tokens.length; i += 500) {
      const chunk = tokens.slice(i, i + 500)
      let lookup = this.lookups.get(chunk.length)
      if (lookup === undefined) {
        lookup = this.db.prepare(`${SELECT} WHERE s.token IN (${chunk.map(() => '?').join(',')})`)
        this.lookups.set(chunk.length, lookup)
      }
      const rows = lookup.all(...chunk) as Array<Record<string, unknown>>
      for (const row of rows) {
        const r = record(row)
        if (r !== null) found.set(r.token, r)
      }
    }
    return found
  }

  async close (): Promise<void> {
    this.lookups.clear()
    this.db?.close()
    this.db = null
  }
}

/**
 * Asks the app: GET <BETTER_AUTH_URL>/api/auth/get-session with the signed cookie. One request
 * per token (no batching), and subject to the app's rate limit.
 */
export class HttpSessions implements SessionSource {
  constructor (private readonly baseUrl: string, private readonly signed: (token: string) => string) {}

  async find (tokens: readonly string[]): Promise<Map<string, SessionRecord | typeof UNAVAILABLE>> {
    const found = new Map<string, SessionRecord | typeof UNAVAILABLE>()
    let failures = 0
    let lastError: Error | null = null
    // A few requests at a time; one failing (a 429 from the app's rate limit) spoils only itself.
    let next = 0
    await Promise.all(Array.from({ length: Math.min(4, tokens.length) }, async () => {
      while (next < tokens.length) {
        const token = tokens[next++]!
        try {
          const r = await this.lookUp(token)
          if (r !== null) found.set(token, r)
        } catch (err) {
          failures++
          lastError = err as Error
          found.set(token, UNAVAILABLE)
        }
      }
    }))
    if (failures > 0 && failures === tokens.length) throw lastError!
    return found
  }

  private async lookUp (token: string): Promise<SessionRecord | null> {
    const res = await fetch(new URL('/api/auth/get-session', this.baseUrl), {
      headers: { cookie: `better-auth.session_token=${encodeURIComponent(this.signed(token))}` },
      signal: AbortSignal.timeout(5000),
    })
    if (!res.ok) throw new Error(`get-session answered HTTP ${res.status}`)
    const body = await res.json() as { session?: Record<string, unknown>, user?: Record<string, unknown> } | null
    if (body?.session === undefined || body.user === undefined) return null
    return record({ ...body.user, token, expiresAt: body.session.expiresAt, userId: body.session.userId })
  }

  async close (): Promise<void> {}
}
