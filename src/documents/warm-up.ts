/**
 * Runs the Yjs code a document load takes (decode a snapshot, apply a log in one transaction,
 * encode a state vector and a diff, merge updates) on a throwaway document once at start.
 *
 * Why: right after a restart the first load of a large document ran mostly in V8's interpreter.
 * Loading a 20,000-edit document took 25-40 ms in a fresh process against 3-6 ms once the same
 * code was optimized, and the first clients after a deploy are exactly the ones that reconnect
 * to big documents at once. V8 optimizes a function only after many calls: a 1,000-edit warm-up
 * made no difference, 4,000 edits loaded five times did (about 0.5 s, before the port opens).
 */
import * as Y from 'yjs'
import { buildDoc } from '../storage/snapshot.js'

export function warmUpYjs (edits = 4000, rounds = 20): void {
  const source = new Y.Doc()
  const updates: Uint8Array[] = []
  source.on('update', (u: Uint8Array) => updates.push(u))
  const text = source.getText('t')
  const map = source.getMap('m')
  for (let i = 0; i < edits; i++) {
    if (i % 10 === 9) text.delete(text.length - 1, 1)
    else text.insert(text.length, String.fromCharCode(97 + (i % 26)))
    if (i % 50 === 0) map.set(`k${i % 7}`, i)
  }
  const snapshot = Y.encodeStateAsUpdate(source)
  const emptyVector = Uint8Array.of(0)
  // Loading from a snapshot is the common case (every unload compacts), so it gets most rounds;
  // a log replay and a merge are cheaper to warm.
  for (let r = 0; r < rounds; r++) {
    const doc = buildDoc('warm-up', { snapshot, updates: updates.slice(-20) })
    Y.encodeStateAsUpdate(doc, emptyVector)
    Y.encodeStateVector(doc)
    doc.destroy()
  }
  buildDoc('warm-up', { snapshot: null, updates }).destroy()
  Y.mergeUpdates(updates.slice(0, 256))
  source.destroy()
}
