/**
 * Several instances sharing PostgreSQL and Redis (REDIS_URL): clients of both protocols on
 * different instances converge, presence crosses instances, an instance killed with kill -9
 * loses no acknowledged edit while its clients move to the others, and a Redis restart leaves
 * every instance serving its own clients (reporting degraded) until they converge again.
 */
import { Redis } from 'ioredis'
import * as Y from 'yjs'
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest'
import { PostgresStore, type Config, type DocumentStore } from '../../dist/index.js'
import { Balancer } from '../helpers/balancer.js'
import { GatedStore } from '../helpers/gated-store.js'
import { destroyClients, hocus, synced, text, yws } from '../helpers/clients.js'
import { editor, type Editor } from '../helpers/editors.js'
import { freshSchema, type Schema } from '../helpers/postgres.js'
import { requireProgram } from '../helpers/programs.js'
import { freePort, PrivateRedis, SHARED_REDIS_ADDRESS, SHARED_REDIS_URL, sharedRedisThrough } from '../helpers/redis.js'
import { spawnServer, startServer, type ServerProcess, type TestServer } from '../helpers/server.js'
import { prng, sleep, waitFor } from '../helpers/wait.js'

let schema: Schema
let databaseUrl = ''
let testNumber = 0

const servers: TestServer[] = []
const processes: ServerProcess[] = []
const cleanups: Array<() => Promise<void>> = []

beforeAll(async () => {
  schema = await freshSchema('cluster')
  databaseUrl = schema.url
})
afterEach(async () => {
  destroyClients()
  for (const s of servers.splice(0)) await s.close()
  for (const p of processes.splice(0)) await p.stop('SIGKILL')
  for (const c of cleanups.splice(0)) await c()
})
afterAll(async () => { await schema.drop() })

/** Channel names no other test (or run) shares. */
const freshPrefix = (): string => `collabd-test:${process.pid}:${++testNumber}:`

/**
 * A redis-server of this test's own (stopped and restarted by it), killed after the test. Skips
 * the test, with the reason, when redis-server is not installed.
 */
async function privateRedis (ctx: TestContext): Promise<PrivateRedis> {
  const redis = new PrivateRedis(await freePort(), requireProgram(ctx, 'redis-server'))
  await redis.start()
  cleanups.push(async () => { await redis.kill() })
  return redis
}

/** `count` in-process instances on one PostgreSQL schema and one Redis. */
async function instances (count: number, redisUrl: string, prefix = freshPrefix(), config: Partial<Config> = {}, peerTimeoutMs = 1500): Promise<TestServer[]> {
  const started: TestServer[] = []
  for (let i = 0; i < count; i++) {
    const s = await startServer({
      store: new PostgresStore({ url: databaseUrl, poolSize: 3, migrate: true }),
      env: { REDIS_URL: redisUrl, REDIS_PREFIX: prefix, REDIS_PEER_TIMEOUT_MS: String(peerTimeoutMs) },
      config,
    })
    servers.push(s)
    started.push(s)
  }
  return started
}

/** The document as stored in PostgreSQL (snapshot plus log). */
async function storedText (name: string): Promise<string> {
  const store: DocumentStore = new PostgresStore({ url: databaseUrl, poolSize: 1, migrate: false })
  await store.open()
  try {
    const stored = await store.load(name)
    const doc = new Y.Doc()
    if (stored?.snapshot != null) Y.applyUpdate(doc, stored.snapshot)
    for (const u of stored?.updates ?? []) Y.applyUpdate(doc, u)
    return doc.getText('t').toString()
  } finally {
    await store.close()
  }
}

async function health (s: { httpUrl: string }): Promise<{ code: number, body: { status: string, redis?: { connected: boolean, latency: number | null } } }> {
  const res = await fetch(`${s.httpUrl}/health`)
  return { code: res.status, body: await res.json() as never }
}

describe('three instances over Redis', () => {
  it('ten clients of both protocols, spread over three instances, make random concurrent edits and converge', async () => {
    const [a, b, c] = await instances(3, SHARED_REDIS_URL)
    const urls = [a!.url, b!.url, c!.url]
    const name = 'converge'
    const clients = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? yws(urls[i % 3]!, name) : hocus(urls[i % 3]!, name)))
    await Promise.all(clients.map((cl, i) => synced(cl.provider, `client ${i} to sync`)))
    const random = prng(42)
    for (let round = 0; round < 30; round++) {
      for (const [i, cl] of clients.entries()) {
        const t = cl.doc.getText('t')
        if (t.length > 20 && random() < 0.3) t.delete(Math.floor(random() * (t.length - 3)), 3)
        else t.insert(Math.floor(random() * (t.length + 1)), `<${i}.${round}>`)
      }
      await sleep(Math.floor(random() * 15))
    }
    for (const [i, cl] of clients.entries()) cl.doc.getText('t').insert(0, `<end-${i}>`)
    const converged = (): boolean => clients.every((cl) => text(cl.doc) === text(clients[0]!.doc))
    await waitFor(converged, 'all ten clients to hold the same text', 20_000)
    const final = text(clients[0]!.doc)
    for (let i = 0; i < 10; i++) expect(final).toContain(`<end-${i}>`)
    // Every instance holds the same document, and the store has it all once they shut down.
    for (const s of [a!, b!, c!]) expect(s.server.registry.get(name)!.doc.getText('t').toString()).toBe(final)
    destroyClients()
    for (const s of servers.splice(0)) await s.close()
    expect(await storedText(name)).toBe(final)
  }, 60_000)

  it('shows presence across instances and removes it when the client leaves or its instance stops', async () => {
    // A long peer timeout: the removals below must come from the leave and the goodbye, not from it.
    const [a, b] = await instances(2, SHARED_REDIS_URL, freshPrefix(), {}, 30_000)
    const ann = yws(a!.url, 'presence')
    const bob = hocus(b!.url, 'presence')
    await synced(ann.provider)
    await synced(bob.provider)
    ann.provider.awareness.setLocalStateField('user', { name: 'Ann' })
    bob.provider.awareness!.setLocalStateField('user', { name: 'Bob' })
    await waitFor(() => bob.provider.awareness!.getStates().get(ann.doc.clientID)?.user?.name === 'Ann', 'Bob (instance b) to see Ann (instance a)')
    await waitFor(() => ann.provider.awareness.getStates().get(bob.doc.clientID)?.user?.name === 'Bob', 'Ann to see Bob')
    // A client that joins later sees everyone, wherever they are.
    const cat = yws(b!.url, 'presence')
    await synced(cat.provider)
    await waitFor(() => cat.provider.awareness.getStates().get(ann.doc.clientID)?.user?.name === 'Ann', 'a late joiner on b to see Ann')

    ann.provider.destroy()
    await waitFor(() => !bob.provider.awareness!.getStates().has(ann.doc.clientID), 'Ann\'s presence to be removed at b when she leaves')

    const dan = yws(a!.url, 'presence')
    await synced(dan.provider)
    dan.provider.awareness.setLocalStateField('user', { name: 'Dan' })
    await waitFor(() => bob.provider.awareness!.getStates().get(dan.doc.clientID)?.user?.name === 'Dan', 'Bob to see Dan')
    // Instance a stops: its clients' presence goes from b with it, not after the peer timeout.
    await a!.close()
    await waitFor(() => !bob.provider.awareness!.getStates().has(dan.doc.clientID), 'Dan\'s presence to be removed when his instance stops', 5000)
  }, 30_000)

  it('delivers a server broadcast (stateless) to the clients of every instance', async () => {
    const [a, b] = await instances(2, SHARED_REDIS_URL)
    const onB = hocus(b!.url, 'announce')
    await synced(onB.provider)
    const got: string[] = []
    onB.provider.on('stateless', ({ payload }: { payload: string }) => got.push(payload))
    // Not even loaded on a: the broadcast still reaches b's clients.
    a!.server.broadcastStateless('announce', 'saved by the app')
    await waitFor(() => got.includes('saved by the app'), 'the broadcast made on a to reach a client of b')
  }, 20_000)

  it('writes, on another instance, what a killed instance never confirmed', async () => {
    // In-process view of the rule the kill -9 test below relies on: b applied a's update but a
    // never wrote it; once a is gone, b writes it.
    const [a, b] = await instances(2, SHARED_REDIS_URL, freshPrefix(), { shutdownTimeoutMs: 500 })
    const onA = yws(a!.url, 'orphan')
    const onB = yws(b!.url, 'orphan')
    await synced(onA.provider)
    await synced(onB.provider)
    // Make a's writes fail, then edit on a: b gets the update, a cannot store it.
    const store = a!.store as PostgresStore
    const append = store.append.bind(store)
    store.append = async () => { throw new Error('disk on fire') }
    onA.doc.getText('t').insert(0, 'only in memory')
    await waitFor(() => text(onB.doc) === 'only in memory', 'b to get the edit')
    // a vanishes without a goodbye: no more writes, no heartbeat, no Redis.
    a!.server.durability.stop()
    store.append = append
    const cluster = a!.server.cluster as unknown as { link: { pub: Redis, sub: Redis }, heartbeatTimer: NodeJS.Timeout }
    clearInterval(cluster.heartbeatTimer)
    cluster.link.pub.disconnect()
    cluster.link.sub.disconnect()
    await waitFor(async () => (await storedText('orphan')) === 'only in memory', 'b to write a\'s unconfirmed update after the peer timeout', 10_000)
    expect(b!.logs.some((l) => l.msg === 'instance gone; writing its unconfirmed updates and removing its clients\' presence')).toBe(true)
  }, 30_000)

  it('ignores malformed messages on its channels and keeps relaying', async () => {
    const prefix = freshPrefix()
    const [a, b] = await instances(2, SHARED_REDIS_URL, prefix)
    const onA = yws(a!.url, 'garbage')
    const onB = yws(b!.url, 'garbage')
    await synced(onA.provider)
    await synced(onB.provider)
    const redis = new Redis(SHARED_REDIS_URL)
    cleanups.push(async () => { redis.disconnect() })
    for (const junk of [Buffer.from([]), Buffer.from([1]), Buffer.from([1, 3, 0x61, 0x62, 0x63, 1, 1, 200]), Buffer.from('not binary at all'), Buffer.from([1, 1, 0x7a, 1, 1, 3, 9, 9, 9])]) {
      await redis.publish(`${prefix}doc:garbage`, junk)
      await redis.publish(`${prefix}instances`, junk)
    }
    onA.doc.getText('t').insert(0, 'still flowing')
    await waitFor(() => text(onB.doc) === 'still flowing', 'b to get a\'s edit after the garbage')
    expect((await health(a!)).body.status).toBe('healthy')
  }, 20_000)
})

describe('Redis restarted mid-test', () => {
  it('keeps serving local clients, reports degraded, and converges again once Redis is back', async (ctx) => {
    const redis = await privateRedis(ctx)
    const [a, b] = await instances(2, redis.url)
    const a1 = hocus(a!.url, 'restart')
    const a2 = yws(a!.url, 'restart')
    const b1 = yws(b!.url, 'restart')
    await Promise.all([synced(a1.provider), synced(a2.provider), synced(b1.provider)])
    a1.doc.getText('t').insert(0, 'before.')
    await waitFor(() => text(b1.doc) === 'before.', 'b1 to get the first edit through Redis')
    const before = await health(a!)
    expect(before.body.status).toBe('healthy')
    expect(before.body.redis?.connected).toBe(true)

    await redis.kill()
    await waitFor(async () => (await health(a!)).body.status === 'degraded', 'a to report degraded')
    const degraded = await health(a!)
    expect(degraded.code).toBe(200) // still serving its clients: a load balancer should keep it
    expect(degraded.body.redis).toEqual({ connected: false, latency: null })
    // Clients of one instance still sync with each other, and their edits are acknowledged.
    a1.doc.getText('t').insert(a1.doc.getText('t').length, 'a-during.')
    b1.doc.getText('t').insert(0, 'b-during.')
    await waitFor(() => text(a2.doc).includes('a-during.'), 'a2 to get a1\'s edit during the outage')
    await waitFor(() => a1.provider.unsyncedChanges === 0, 'a1\'s edit to be acknowledged during the outage')
    // Long enough for the instances to take each other as gone (REDIS_PEER_TIMEOUT_MS 1500),
    // and for the two Redis connections of each to be retrying on different schedules.
    await sleep(2500)

    await redis.start()
    await waitFor(() => [a1, a2, b1].every((cl) => text(cl.doc).includes('a-during.') && text(cl.doc).includes('b-during.')), 'every client to have both sides\' edits after Redis is back', 20_000)
    await waitFor(async () => (await health(a!)).body.status === 'healthy' && (await health(b!)).body.status === 'healthy', 'both instances healthy again')
    // And live relaying works again.
    b1.doc.getText('t').insert(0, 'after.')
    await waitFor(() => text(a1.doc).startsWith('after.'), 'a1 to get an edit made after the restart')
    expect(text(a1.doc)).toBe(text(b1.doc))
    expect(a!.logs.some((l) => l.msg === 'Redis connection back; syncing loaded documents with the other instances')).toBe(true)
  }, 60_000)
})

describe('edits made while Redis was away, by an instance that has since let the document go', () => {
  it('reach the clients of the other instances once Redis is back (read again from the store)', async (ctx) => {
    const redis = await privateRedis(ctx)
    const prefix = freshPrefix()
    const [a] = await instances(1, redis.url, prefix, { documentUnloadDelayMs: 50 })
    const [b] = await instances(1, redis.url, prefix)
    const onA = hocus(a!.url, 'left-behind')
    const onB = yws(b!.url, 'left-behind')
    await synced(onA.provider)
    await synced(onB.provider)
    onA.doc.getText('t').insert(0, 'before. ')
    await waitFor(() => text(onB.doc) === 'before. ', 'b to get the first edit')

    await redis.kill()
    await waitFor(async () => (await health(a!)).body.status === 'degraded', 'a to notice Redis is gone')
    onA.doc.getText('t').insert(8, 'during.')
    await waitFor(() => onA.provider.unsyncedChanges === 0, 'the edit made during the outage to be stored')
    onA.provider.destroy()
    await waitFor(() => a!.server.registry.get('left-behind') === undefined && a!.server.registry.internals().unloading === 0, 'a to unload the document')

    await redis.start()
    await waitFor(() => text(onB.doc) === 'before. during.', 'b\'s client to get the edit a made and let go of', 20_000)
  }, 40_000)
})

describe('an instance cut off from Redis while the others are not', () => {
  /** `a` reaches Redis through a proxy the test cuts; `b` directly. Both have `doc` open and in sync. */
  async function oneSided (doc: string, peerTimeoutMs = 1500): Promise<{ a: TestServer, b: TestServer, proxy: Balancer, onA: ReturnType<typeof hocus>, onB: ReturnType<typeof yws> }> {
    const proxy = new Balancer([SHARED_REDIS_ADDRESS])
    await proxy.start()
    cleanups.push(async () => { await proxy.stop() })
    const prefix = freshPrefix()
    const [a] = await instances(1, sharedRedisThrough(proxy.port), prefix, { documentUnloadDelayMs: 50 }, peerTimeoutMs)
    const [b] = await instances(1, SHARED_REDIS_URL, prefix, {}, peerTimeoutMs)
    const onA = hocus(a!.url, doc)
    const onB = yws(b!.url, doc)
    await synced(onA.provider)
    await synced(onB.provider)
    onA.doc.getText('t').insert(0, 'before. ')
    await waitFor(() => text(onB.doc) === 'before. ', 'b to get the first edit')
    return { a: a!, b: b!, proxy, onA, onB }
  }

  /** While a is cut off (and b has taken it as gone), a's client edits, is acknowledged, and leaves; a lets the document go. */
  async function editAndLeaveWhileCut ({ a, b, proxy, onA }: Awaited<ReturnType<typeof oneSided>>, doc: string): Promise<void> {
    proxy.cut()
    await waitFor(async () => (await health(a)).body.status === 'degraded', 'a to notice Redis is gone')
    await waitFor(() => b.logs.some((l) => String(l.msg).startsWith('instance gone')), 'b to take a as gone')
    expect((await health(b)).body.status).toBe('healthy') // b never lost Redis
    onA.doc.getText('t').insert(8, 'during.')
    await waitFor(() => onA.provider.unsyncedChanges === 0, 'the edit made while cut off to be stored')
    onA.provider.destroy()
    await waitFor(() => a.server.registry.get(doc) === undefined && a.server.registry.internals().unloading === 0, 'a to unload the document')
  }

  it('says so when it is back, and the others read what it wrote meanwhile from the store', async () => {
    const setup = await oneSided('one-sided')
    await editAndLeaveWhileCut(setup, 'one-sided')
    expect(text(setup.onB.doc)).toBe('before. ')
    setup.proxy.restore()
    await waitFor(() => text(setup.onB.doc) === 'before. during.', 'b\'s client to get the edit a made cut off and let go of', 15_000)
    expect(setup.b.logs.some((l) => l.msg === 'instance back after losing Redis; reading loaded documents from the store again')).toBe(true)
  }, 40_000)

  it('when it never comes back, the others read what it may have written from the store once it times out', async () => {
    // A long timeout, so the edit is stored well before b takes a as gone and reads the store.
    const setup = await oneSided('never-back', 4000)
    setup.proxy.cut()
    await waitFor(async () => (await health(setup.a)).body.status === 'degraded', 'a to notice Redis is gone')
    setup.onA.doc.getText('t').insert(8, 'last words.')
    await waitFor(() => setup.onA.provider.unsyncedChanges === 0, 'the edit made while cut off to be stored')
    // a goes for good, its goodbye lost with its connection: b only has the timeout to go by.
    await setup.a.close()
    await waitFor(() => text(setup.onB.doc) === 'before. last words.', 'b\'s client to get the edit of an instance that died cut off', 15_000)
  }, 40_000)
})

describe('a document another instance is unloading', () => {
  it('still answers the sync request of an instance that loads it meanwhile, with what is not stored yet', async () => {
    const prefix = freshPrefix()
    const gated = new GatedStore(new PostgresStore({ url: databaseUrl, poolSize: 3, migrate: true }))
    const a = await startServer({ store: gated, env: { REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: prefix }, config: { documentUnloadDelayMs: 20 } })
    servers.push(a)
    cleanups.push(async () => { gated.release() })
    const [b] = await instances(1, SHARED_REDIS_URL, prefix)
    const onA = hocus(a.url, 'draining')
    await synced(onA.provider)
    gated.hold() // a's writes wait: its room cannot finish unloading
    onA.doc.getText('t').insert(0, 'not stored yet')
    await waitFor(() => gated.appendCalls.length > 0, 'a to try to write the edit')
    onA.provider.destroy()
    await waitFor(() => a.server.registry.get('draining') === undefined && a.server.registry.internals().draining === 1, 'a to be unloading the document')
    const onB = yws(b!.url, 'draining') // b loads it from the store, which lacks the edit
    await synced(onB.provider)
    await waitFor(() => text(onB.doc) === 'not stored yet', 'b\'s client to get the edit from a\'s unloading room')
    gated.release()
    await waitFor(() => a.server.registry.internals().draining === 0, 'a to finish unloading')
    expect(await storedText('draining')).toBe('not stored yet')
  }, 30_000)
})

describe('a subscription Redis refuses on a connection that stays up', () => {
  it('is tried again by reconnecting, and the instance joins the others once Redis allows it', async (ctx) => {
    const redis = await privateRedis(ctx)
    const admin = new Redis(redis.url)
    cleanups.push(async () => { admin.disconnect() })
    // An operator's mistake: a user that may publish and run commands, but on no channel.
    await admin.call('ACL', 'SETUSER', 'collabd', 'on', '>a-long-test-password', '~*', 'resetchannels', '+@all')
    const prefix = freshPrefix()
    const [a] = await instances(1, redis.url.replace('redis://', 'redis://collabd:a-long-test-password@'), prefix)
    const [b] = await instances(1, redis.url, prefix)
    const onA = yws(a!.url, 'acl') // the document's channel is refused too
    const onB = yws(b!.url, 'acl')
    await synced(onA.provider)
    await synced(onB.provider)
    await waitFor(() => a!.logs.some((l) => String(l.msg).startsWith('subscribing to Redis channels failed')), 'a to be refused its subscriptions')
    await admin.call('ACL', 'SETUSER', 'collabd', 'allchannels')
    onB.doc.getText('t').insert(0, 'heard by a')
    await waitFor(() => text(onA.doc) === 'heard by a', 'a, subscribed after its reconnect, to relay b\'s edit', 15_000)
  }, 30_000)
})

describe('a Redis connection that goes silent without closing', () => {
  it('is noticed through the instance\'s own heartbeat and reconnected', async () => {
    const proxy = new Balancer([SHARED_REDIS_ADDRESS])
    await proxy.start()
    cleanups.push(async () => { await proxy.stop() })
    const prefix = freshPrefix()
    const [a] = await instances(1, sharedRedisThrough(proxy.port), prefix)
    const [b] = await instances(1, SHARED_REDIS_URL, prefix)
    const onA = yws(a!.url, 'silent')
    const onB = yws(b!.url, 'silent')
    await synced(onA.provider)
    await synced(onB.provider)
    onA.doc.getText('t').insert(0, 'before. ')
    await waitFor(() => text(onB.doc) === 'before. ', 'b to get the first edit')
    proxy.freeze() // a's connections stay open but carry nothing, both ways
    onA.doc.getText('t').insert(8, 'while silent.')
    await waitFor(() => a!.logs.some((l) => l.msg === 'Redis subscription silent; reconnecting'), 'a to notice its subscription is silent', 10_000)
    await waitFor(() => text(onB.doc) === 'before. while silent.', 'the edit made while silent to reach b after the reconnect', 15_000)
  }, 40_000)
})

describe('collabd start processes behind a load balancer', () => {
  it('loses no acknowledged edit when one of three instances is killed with kill -9 and its clients move to the others', async () => {
    const env = { DATABASE_URL: databaseUrl, REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: freshPrefix(), REDIS_PEER_TIMEOUT_MS: '1500', WARM_UP: 'false', LOG_LEVEL: 'info' }
    for (let i = 0; i < 3; i++) processes.push(await spawnServer(env))
    const balancer = new Balancer(processes.map((p) => p.port))
    await balancer.start()
    cleanups.push(async () => { await balancer.stop() })
    // Six editors, two per instance (the balancer takes turns).
    const editors: Editor[] = []
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) editors.push(await editor(balancer.url, 'kill9', id))
    const typing = setInterval(() => { for (const e of editors) e.type() }, 5)
    cleanups.push(async () => { clearInterval(typing) })
    await waitFor(() => editors.every((e) => e.acked() >= 30), 'every editor to have edits acknowledged')

    const victim = processes[0]!
    const ackedBeforeKill = editors.flatMap((e) => e.ackedTokens())
    victim.proc.kill('SIGKILL')
    expect(await victim.exited).toBe('SIGKILL')
    await sleep(1000) // typing on while the victim's clients reconnect elsewhere
    clearInterval(typing)

    const all = (): string => text(editors[0]!.doc)
    await waitFor(() => editors.every((e) => e.provider.unsyncedChanges === 0), 'every editor\'s edits to be acknowledged after the kill', 20_000)
    await waitFor(() => editors.every((e) => text(e.doc) === all()), 'every editor to converge', 20_000)
    for (const token of editors.flatMap((e) => e.typed)) expect(all()).toContain(token)

    // The survivors shut down cleanly; the store holds every acknowledged edit (indeed every edit).
    for (const p of processes.slice(1)) expect(await p.stop('SIGTERM')).toBe(0)
    const stored = await storedText('kill9')
    for (const token of ackedBeforeKill) expect(stored).toContain(token)
    expect(stored).toBe(all())
  }, 90_000)
})
