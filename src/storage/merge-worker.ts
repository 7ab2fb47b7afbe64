/**
 * A worker thread that merges a snapshot and log rows into a new snapshot (merger.ts sends the
 * work). Merging decodes the whole document: for a 20,000-edit document that is tens of
 * milliseconds of CPU, which on the main thread would stall every connection of the instance.
 */
import { parentPort } from 'node:worker_threads'
import { CorruptDocumentError } from '../errors.js'
import { mergeToSnapshot } from './snapshot.js'

export interface MergeRequest {
  readonly id: number
  readonly name: string
  readonly snapshot: Uint8Array | null
  readonly updates: readonly Uint8Array[]
}

export type MergeResponse =
  | { readonly id: number, readonly ok: true, readonly snapshot: Uint8Array }
  | { readonly id: number, readonly ok: false, readonly message: string, readonly corruptDetail: string | null }

parentPort!.on('message', (req: MergeRequest) => {
  let res: MergeResponse
  try {
    res = { id: req.id, ok: true, snapshot: mergeToSnapshot(req.name, req.snapshot, req.updates) }
  } catch (err) {
    res = { id: req.id, ok: false, message: (err as Error).message, corruptDetail: err instanceof CorruptDocumentError ? err.detail : null }
  }
  parentPort!.postMessage(res, res.ok ? [res.snapshot.buffer as ArrayBuffer] : [])
})
