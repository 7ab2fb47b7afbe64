/**
 * The acknowledgement ledger (documents/acknowledgements.ts): acknowledgements are paid in
 * sequence order and only once their update is durable, a burst to one member is paid in one
 * call, an update that needed no row never overtakes an earlier pending write, and waiters
 * resolve once everything queued before them is durable.
 */
import { describe, expect, it } from 'vitest'
import { AckLedger, type Acknowledgeable } from '../../src/documents/acknowledgements.js'

class Member implements Acknowledgeable {
  readonly calls: number[] = []
  constructor (readonly name: string) {}
  acknowledge (count: number): void { this.calls.push(count) }
  get total (): number { return this.calls.reduce((a, b) => a + b, 0) }
}

describe('acknowledgement ledger', () => {
  it('pays nothing before the commit and exactly what is durable after it, in order', () => {
    const ledger = new AckLedger<Member>()
    const a = new Member('a')
    const b = new Member('b')
    const order: string[] = []
    a.acknowledge = (n) => { order.push(`a${n}`) }
    b.acknowledge = (n) => { order.push(`b${n}`) }
    ledger.owe(a, ledger.nextSeq())
    ledger.owe(b, ledger.nextSeq())
    ledger.owe(a, ledger.nextSeq())
    expect(order).toEqual([])
    expect(ledger.commit(2)).toBe(true)
    expect(order).toEqual(['a1', 'b1'])
    expect(ledger.commit(3)).toBe(true)
    expect(order).toEqual(['a1', 'b1', 'a1'])
    expect(ledger.owed).toBe(0)
  })

  it('pays a burst of one member in one call', () => {
    const ledger = new AckLedger<Member>()
    const a = new Member('a')
    for (let i = 0; i < 50; i++) ledger.owe(a, ledger.nextSeq())
    ledger.commit(50)
    expect(a.calls).toEqual([50])
  })

  it('ignores a commit that is not newer', () => {
    const ledger = new AckLedger<Member>()
    const a = new Member('a')
    ledger.owe(a, ledger.nextSeq())
    ledger.owe(a, ledger.nextSeq())
    expect(ledger.commit(2)).toBe(true)
    expect(ledger.commit(2)).toBe(false)
    expect(ledger.commit(1)).toBe(false)
    expect(a.total).toBe(2)
  })

  it('pays an update that needed no row at once when all is durable, else after what came before it', () => {
    const ledger = new AckLedger<Member>()
    const a = new Member('a')
    const b = new Member('b')
    ledger.oweWhenDurable(a)
    expect(a.total).toBe(1) // nothing pending: at once
    ledger.owe(a, ledger.nextSeq())
    ledger.owe(a, ledger.nextSeq())
    ledger.oweWhenDurable(b)
    ledger.commit(1)
    expect(b.total).toBe(0) // seq 2 was queued before it and is not durable yet
    ledger.commit(2)
    expect(b.total).toBe(1)
    expect(ledger.allDurable).toBe(true)
  })

  it('resolves waiters once what was queued before them is durable, not before', async () => {
    const ledger = new AckLedger<Member>()
    let idle = false
    void ledger.whenDurable().then(() => { idle = true })
    await new Promise((resolve) => setImmediate(resolve))
    expect(idle).toBe(true) // nothing queued: resolved at once
    ledger.nextSeq()
    ledger.nextSeq()
    const waiting = ledger.whenDurable()
    let done = false
    void waiting.then(() => { done = true })
    ledger.commit(1)
    await new Promise((resolve) => setImmediate(resolve))
    expect(done).toBe(false)
    ledger.commit(2)
    await waiting
    expect(done).toBe(true)
  })

  it('stays correct over many partial commits (the arrays are compacted as they are paid)', () => {
    const ledger = new AckLedger<Member>()
    const members = [new Member('a'), new Member('b'), new Member('c')]
    const owedTo = [0, 0, 0]
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 300; i++) {
        const m = (round + i) % 3
        ledger.owe(members[m]!, ledger.nextSeq())
        owedTo[m]!++
      }
      // Commit all but the last 100 of this round.
      ledger.commit(ledger.appended - 100)
    }
    ledger.commit(ledger.appended)
    expect(members.map((m) => m.total)).toEqual(owedTo)
    expect(ledger.owed).toBe(0)
  })
})
