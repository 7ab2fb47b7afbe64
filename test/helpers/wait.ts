/** Waiting with deadlines: every wait in the suite fails loudly, with a description, when it times out. */

export async function waitFor (predicate: () => boolean | Promise<boolean>, description: string, timeoutMs = 10_000, intervalMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await predicate()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${description}`)
    await sleep(intervalMs)
  }
}

/** Resolves with the first emission of `event` from a Node or lib0-style emitter, or rejects at the deadline. */
export function once<T = unknown> (emitter: { once?: (e: string, f: (...a: any[]) => void) => unknown, on: (e: string, f: (...a: any[]) => void) => unknown, off: (e: string, f: (...a: any[]) => void) => unknown }, event: string, description: string, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, handler)
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description}`))
    }, timeoutMs)
    const handler = (...args: any[]): void => {
      clearTimeout(timer)
      emitter.off(event, handler)
      resolve(args[0] as T)
    }
    emitter.on(event, handler)
  })
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A seeded PRNG (mulberry32), so fuzz and random tests replay from their seed. */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
