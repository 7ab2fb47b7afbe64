/**
 * A room's acknowledgement ledger: which member is owed an acknowledgement at which sequence
 * number, and who waits for what to be durable (ARCHITECTURE.md, "The durability rule").
 *
 * Every update a room queues for the store gets the next sequence number of that room; the
 * durability queue reports back the highest committed one (`commit`). Acknowledgements are owed
 * in sequence order, so a commit pays a prefix of the ledger: two parallel arrays and a head
 * index, no object per update. Consecutive acknowledgements to one member (a burst) are paid in
 * one call, which the connection turns into one write.
 */

/** Whoever can be acknowledged (a RoomMember). */
export interface Acknowledgeable {
  /** `count` more of its updates are durable. */
  acknowledge (count: number): void
}

/** Past this many paid entries (and half the arrays), the arrays are compacted. */
const COMPACT_AFTER_PAID = 1024

export class AckLedger<M extends Acknowledgeable> {
  private appendedSeq = 0
  private committedSeq = 0
  private members: M[] = []
  private seqs: number[] = []
  private head = 0
  private waiters: Array<{ seq: number, resolve: () => void }> = []

  /** Sequence number of the last update queued for the store. */
  get appended (): number {
    return this.appendedSeq
  }

  /** Sequence number of the last durable update. */
  get committed (): number {
    return this.committedSeq
  }

  /** Whether every update queued so far is durable. */
  get allDurable (): boolean {
    return this.committedSeq >= this.appendedSeq
  }

  /** Acknowledgements owed and not yet paid. */
  get owed (): number {
    return this.seqs.length - this.head
  }

  /** Takes the sequence number of an update about to be queued for the store. */
  nextSeq (): number {
    return ++this.appendedSeq
  }

  /** `member` is owed one acknowledgement once `seq` is durable (`seq` never below an earlier one). */
  owe (member: M, seq: number): void {
    this.members.push(member)
    this.seqs.push(seq)
  }

  /**
   * `member` is owed one acknowledgement once everything queued so far is durable (an update
   * that needed no row of its own): paid at once if it already is, so it never overtakes an
   * earlier pending write.
   */
  oweWhenDurable (member: M): void {
    if (this.allDurable) member.acknowledge(1)
    else this.owe(member, this.appendedSeq)
  }

  /**
   * Updates up to `seq` are durable: pays what is owed up to it and resolves the waiters.
   * @returns false when `seq` brings nothing new (an older or repeated commit).
   */
  commit (seq: number): boolean {
    if (seq <= this.committedSeq) return false
    this.committedSeq = seq
    const members = this.members
    const seqs = this.seqs
    let head = this.head
    while (head < seqs.length && seqs[head]! <= seq) {
      const member = members[head]!
      let count = 1
      head++
      while (head < seqs.length && seqs[head]! <= seq && members[head] === member) {
        count++
        head++
      }
      member.acknowledge(count)
    }
    if (head === seqs.length) {
      members.length = 0
      seqs.length = 0
      head = 0
    } else if (head > COMPACT_AFTER_PAID && head * 2 > seqs.length) {
      this.members = members.slice(head)
      this.seqs = seqs.slice(head)
      head = 0
    }
    this.head = head
    if (this.waiters.length > 0) {
      this.waiters = this.waiters.filter((w) => {
        if (w.seq > seq) return true
        w.resolve()
        return false
      })
    }
    return true
  }

  /** Resolves once every update queued so far is durable. */
  whenDurable (): Promise<void> {
    if (this.allDurable) return Promise.resolve()
    const seq = this.appendedSeq
    return new Promise((resolve) => this.waiters.push({ seq, resolve }))
  }
}
