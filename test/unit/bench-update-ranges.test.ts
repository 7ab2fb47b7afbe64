/**
 * The benchmark identifies deliveries by the clock ranges of each received update; its fast
 * reader must agree with Y.parseUpdateMeta on every kind of content, merged updates included.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { updateRanges } from '../../src/bench/update-ranges.js'
import { prng } from '../helpers/wait.js'

function randomEdits (seed: number, count: number): Uint8Array[] {
  const random = prng(seed)
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  const text = doc.getText('t')
  const map = doc.getMap('m')
  const array = doc.getArray('a')
  const xml = doc.getXmlFragment('x')
  for (let i = 0; i < count; i++) {
    const pick = Math.floor(random() * 9)
    if (pick === 0) text.insert(Math.floor(random() * (text.length + 1)), ['a', 'é', '日本', '😀x'][i % 4]!)
    else if (pick === 1 && text.length > 0) text.delete(Math.floor(random() * text.length), 1)
    else if (pick === 2) text.format(0, Math.max(1, text.length), { bold: random() < 0.5 })
    else if (pick === 3) text.insertEmbed(text.length, { image: 'x.png' })
    else if (pick === 4) map.set(`k${i % 5}`, { n: i, s: 'v' })
    else if (pick === 5) array.insert(array.length, [i, 'two', null, new Uint8Array([1, 2])])
    else if (pick === 6) array.insert(0, [new Y.Map()])
    else if (pick === 7) xml.insert(0, [new Y.XmlElement('p'), new Y.XmlText('hi')])
    else map.set('json', JSON.parse('{"a":[1,2]}'))
  }
  return updates
}

const asObject = (m: Map<number, number>): Record<number, number> => Object.fromEntries(m)

describe('bench update ranges', () => {
  it.each([1, 2, 3, 4])('agree with Y.parseUpdateMeta on single and merged updates, seed %i', (seed) => {
    const updates = randomEdits(seed, 300)
    const merged = [Y.mergeUpdates(updates.slice(0, 100)), Y.mergeUpdates(updates), Y.mergeUpdates(updates.filter((_, i) => i % 3 === 0))]
    for (const update of [...updates, ...merged]) {
      const expected = Y.parseUpdateMeta(update)
      const actual = updateRanges(update)
      expect(asObject(actual.from)).toEqual(asObject(expected.from))
      expect(asObject(actual.to)).toEqual(asObject(expected.to))
    }
  })

  it('counts a typed character as one clock, including astral ones (two UTF-16 units)', () => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'a😀b')
    const { from, to } = updateRanges(Y.encodeStateAsUpdate(doc))
    expect(to.get(doc.clientID)! - from.get(doc.clientID)!).toBe(4)
  })

  it('throws on a truncated update instead of inventing ranges', () => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'hello')
    const update = Y.encodeStateAsUpdate(doc)
    expect(() => updateRanges(update.subarray(0, 6))).toThrow()
  })
})
