/**
 * Which other instances are alive (scaling/liveness.ts): a heartbeat keeps an instance alive,
 * one not heard from within the timeout is gone exactly once, a goodbye removes it at once, and
 * a late tick (a blocked event loop) judges nobody.
 */
import { describe, expect, it } from 'vitest'
import { InstanceLiveness } from '../../src/scaling/liveness.js'

describe('instance liveness', () => {
  it('beats a third of the timeout, between 100 ms and 1 s', () => {
    expect(new InstanceLiveness(5000).intervalMs).toBe(1000)
    expect(new InstanceLiveness(1500).intervalMs).toBe(500)
    expect(new InstanceLiveness(200).intervalMs).toBe(100)
  })

  it('takes an instance not heard from within the timeout as gone, once', () => {
    const live = new InstanceLiveness(1500) // ticks every 500 ms
    let now = 10_000
    expect(live.tick(now)).toBeNull() // the first tick has no previous one: judges nobody
    live.heartbeat('a', now)
    live.heartbeat('b', now)
    for (let i = 0; i < 3; i++) {
      now += 500
      live.heartbeat('b', now)
      expect(live.tick(now)).toEqual([])
    }
    now += 500 // a last heard 2,000 ms ago
    expect(live.tick(now)).toEqual(['a'])
    expect(live.knows('a')).toBe(false)
    now += 500
    expect(live.tick(now)).toEqual([]) // b: 1,000 ms
    now += 500
    expect(live.tick(now)).toEqual([]) // b: 1,500 ms, not past the timeout
    now += 500
    expect(live.tick(now)).toEqual(['b'])
    expect(live.size).toBe(0)
  })

  it('does not judge on a tick that came late: the heartbeats may be waiting unread', () => {
    const live = new InstanceLiveness(1500)
    let now = 0
    live.tick(now)
    live.heartbeat('a', now)
    now += 500
    expect(live.tick(now)).toEqual([])
    now += 5000 // the event loop was blocked for five seconds
    expect(live.tick(now)).toBeNull()
    expect(live.knows('a')).toBe(true)
    live.heartbeat('a', now) // read once the loop runs again
    now += 500
    expect(live.tick(now)).toEqual([])
  })

  it('forgets an instance that says goodbye, and knows one first seen on a document channel', () => {
    const live = new InstanceLiveness(1500)
    live.seen('a', 0)
    expect(live.knows('a')).toBe(true)
    expect(live.bye('a')).toBe(true)
    expect(live.bye('a')).toBe(false)
    expect(live.size).toBe(0)
  })

  it('keeps an instance alive through its heartbeats only, not its document messages', () => {
    const live = new InstanceLiveness(1500)
    let now = 0
    live.tick(now)
    live.heartbeat('a', now)
    for (let i = 0; i < 4; i++) {
      now += 500
      live.seen('a', now) // busy on a document, but its heartbeats stopped
      const gone = live.tick(now)
      if (gone !== null && gone.length > 0) {
        expect(gone).toEqual(['a'])
        expect(now).toBe(2000)
        return
      }
    }
    throw new Error('a was never taken as gone')
  })
})
