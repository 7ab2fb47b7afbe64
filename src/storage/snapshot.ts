/**
 * Turning stored bytes into a Y.Doc and back. Used by the registry to load a document and by
 * every store's compaction, so "fails to decode" means the same thing everywhere.
 *
 * Load into a fresh Y.Doc, never into a live one: if any stored update throws, the half-built
 * doc is thrown away and the caller gets a CorruptDocumentError naming the part that failed.
 */
import * as Y from 'yjs'
import { CorruptDocumentError } from '../errors.js'
import type { StoredDocument } from './types.js'

/**
 * Builds a Y.Doc from a stored document.
 * @throws {CorruptDocumentError} when the snapshot or a log row cannot be applied.
 */
export function buildDoc (name: string, stored: StoredDocument | null): Y.Doc {
  const doc = new Y.Doc()
  if (stored === null) return doc
  try {
    if (stored.snapshot !== null) {
      try {
        Y.applyUpdate(doc, stored.snapshot)
      } catch (cause) {
        throw new CorruptDocumentError(name, `snapshot of ${stored.snapshot.length} bytes: ${(cause as Error).message}`, cause)
      }
    }
    // One transaction for the whole log: 20,000 small updates apply in ~100 ms this way
    // against ~200 ms one transaction each.
    Y.transact(doc, () => {
      for (let i = 0; i < stored.updates.length; i++) {
        const update = stored.updates[i]!
        try {
          Y.applyUpdate(doc, update)
        } catch (cause) {
          throw new CorruptDocumentError(name, `log update ${i + 1} of ${stored.updates.length} (${update.length} bytes): ${(cause as Error).message}`, cause)
        }
      }
    })
  } catch (err) {
    doc.destroy()
    throw err
  }
  return doc
}

/**
 * Merges a snapshot and log rows into one compact update (deleted content garbage-collected).
 * @throws {CorruptDocumentError}
 */
export function mergeToSnapshot (name: string, snapshot: Uint8Array | null, updates: readonly Uint8Array[]): Uint8Array {
  const doc = buildDoc(name, { snapshot, updates })
  try {
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.destroy()
  }
}
