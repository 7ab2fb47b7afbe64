/**
 * Runs the Yjs code a document load takes (decode a snapshot, apply a log in one transaction,
 * encode a state vector and a diff, merge updates) on a throwaway document once at start.
 *
 * Why: right after a restart the first load of a large document ran mostly in V8's interpreter.
 * Loading a 20,000-edit document took 25-40 ms in a fresh process against 3-6 ms once the same
 * code was optimized, and the first clients after a deploy are exactly the ones that reconnect
 * to big documents at once. Warming takes about 100 ms of start-up, before the port opens.
 */
import * as Y from 'yjs'
import { buildDoc } from '../storage/snapshot.js'

export function warmUpYjs (edits = 1000, rounds = 3): void {
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
  for (let r = 0; r < rounds; r++) {
    const fromLog = buildDoc('warm-up', { snapshot: null, updates })
    const fromSnapshot = buildDoc('warm-up', { snapshot, updates: updates.slice(-100) })
    Y.encodeStateAsUpdate(fromSnapshot, Y.encodeStateVector(fromLog))
    Y.encodeStateAsUpdate(fromLog)
    Y.mergeUpdates(updates.slice(0, 256))
    fromLog.destroy()
    fromSnapshot.destroy()
  }
  source.destroy()
}
