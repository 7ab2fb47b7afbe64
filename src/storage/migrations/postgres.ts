/**
 * PostgreSQL schema, as numbered migrations, matching the SQLite one (and the seeds' names):
 * `yjs_document` (one row per document: snapshot, sizes, timestamps), `yjs_update_log` (id
 * bigserial, document, update bytea, user id, created_at) and `document_access` (grants).
 * Each runs once in its own transaction, recorded in `collabd_migrations`; never edit one that
 * has shipped. Running them concurrently from several instances is safe: a run holds a
 * session-level advisory lock from its first check to its last commit.
 */
import type { Migration } from './sqlite.js'

export const postgresMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'documents and update log',
    sql: `
      CREATE TABLE yjs_document (
        name           TEXT PRIMARY KEY,
        snapshot       BYTEA,
        snapshot_bytes INTEGER NOT NULL DEFAULT 0,
        created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
        compacted_at   TIMESTAMPTZ
      );
      CREATE TABLE yjs_update_log (
        id         BIGSERIAL PRIMARY KEY,
        document   TEXT NOT NULL,
        "update"   BYTEA NOT NULL,
        user_id    TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
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
        granted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (document, user_id)
      );
    `,
  },
  {
    version: 3,
    name: 'snapshot version',
    // Compaction merges without holding the document's row lock and checks this before
    // writing, so a compaction that another one overtook writes nothing.
    sql: 'ALTER TABLE yjs_document ADD COLUMN snapshot_version BIGINT NOT NULL DEFAULT 0;',
  },
]

/** Key of the advisory lock migrations hold (an arbitrary constant: "collabd" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x636f6c6c616264
