/**
 * SQLite schema, as numbered migrations. Each runs once, in its own transaction, recorded in
 * `schema_migrations`; never edit one that has shipped, add the next number instead.
 *
 * Table names follow the seeds (`yjs_document`, `yjs_update_log`) so the PostgreSQL schema can
 * match them. Timestamps are milliseconds since the epoch.
 */
export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'documents and update log',
    sql: `
      CREATE TABLE yjs_document (
        name           TEXT PRIMARY KEY,
        snapshot       BLOB,
        snapshot_bytes INTEGER NOT NULL DEFAULT 0,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL,
        compacted_at   INTEGER
      );
      -- AUTOINCREMENT: ids are never reused, so "delete the rows I merged" can never hit a
      -- row appended after a deletion.
      CREATE TABLE yjs_update_log (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        document   TEXT NOT NULL,
        "update"   BLOB NOT NULL,
        user_id    TEXT,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX yjs_update_log_document_id ON yjs_update_log (document, id);
    `,
  },
  {
    version: 2,
    name: 'per-document grants',
    sql: `
      CREATE TABLE document_access (
        document   TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
        granted_at INTEGER NOT NULL,
        PRIMARY KEY (document, user_id)
      );
    `,
  },
]
