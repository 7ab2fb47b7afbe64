/** PostgreSQL for tests: the machine's server, one fresh schema per test file or test. */
import pg from 'pg'

export const PG_BASE = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

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
    url: `${PG_BASE}?options=${encodeURIComponent(`-c search_path=${name}`)}`,
    drop: async () => { await admin(`DROP SCHEMA IF EXISTS ${name} CASCADE`) },
  }
}
