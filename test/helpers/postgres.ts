/**
 * PostgreSQL for tests: the machine's server (TEST_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/test; its user must be allowed to create schemas), one
 * fresh schema per test file or test.
 */
import pg from 'pg'

export const PG_BASE = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

const base = new URL(PG_BASE)
/** Where the server listens, for a test proxy in front of it. */
export const PG_ADDRESS = { host: base.hostname === '' ? '127.0.0.1' : base.hostname.replace(/^\[|\]$/g, ''), port: Number(base.port === '' ? 5432 : base.port) }

/**
 * A URL for PG_BASE's database whose connections use `schema` (search_path).
 * @param through a port on 127.0.0.1 to connect through (a test proxy) instead of the server's address
 */
export function schemaUrl (schema: string, through?: number): string {
  const url = new URL(PG_BASE)
  if (through !== undefined) {
    url.hostname = '127.0.0.1'
    url.port = String(through)
  }
  const options = `-c search_path=${schema}`
  return `${url.toString()}${url.search === '' ? '?' : '&'}options=${encodeURIComponent(options)}`
}

async function admin (sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_BASE })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

export interface Schema {
  readonly name: string
  /** A DATABASE_URL whose connections use this schema (search_path). */
  readonly url: string
  drop (): Promise<void>
}

/** Creates an empty schema with a name no other test (or run) uses. */
export async function freshSchema (prefix: string): Promise<Schema> {
  const name = `${prefix}_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`
  await admin(`CREATE SCHEMA ${name}`)
  return {
    name,
    url: schemaUrl(name),
    drop: async () => { await admin(`DROP SCHEMA IF EXISTS ${name} CASCADE`) },
  }
}
