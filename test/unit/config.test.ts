/**
 * Configuration: defaults, validation that names every problem, storage URLs, and the
 * documentation of every variable (docs/configuration.md's table, .env.example and --help) kept
 * in step with the code.
 */
import { readFileSync } from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { example as envExample, table, TABLE_END, TABLE_START, withTable } from '../../scripts/env-docs.mjs'
import { globalHelp } from '../../src/cli/help.js'
import { describeStorage } from '../../src/storage/index.js'
import { ConfigError, createServer, ENVIRONMENT, loadConfig, MemoryStore } from '../../src/index.js'
import { ROOT } from '../helpers/paths.js'

describe('loadConfig', () => {
  it('has a default for everything, matching the documented defaults', () => {
    const c = loadConfig({})
    expect(c).toMatchObject({
      port: 3001,
      host: '0.0.0.0',
      healthPort: null,
      wsPath: '/ws',
      storage: { kind: 'sqlite', path: path.join('data', 'collabd.sqlite'), synchronous: 'full' },
      documentUnloadDelayMs: 30_000,
      heartbeatIntervalMs: 30_000,
      allowAnonymous: false,
    })
    expect(Object.isFrozen(c)).toBe(true)
  })

  it('reads the environment and lets explicit overrides win', () => {
    const c = loadConfig({ PORT: '4000', HEALTH_PORT: '4001', WS_PATH: '/collab/', ALLOW_ANONYMOUS: 'yes' }, { port: 5000 })
    expect(c.port).toBe(5000)
    expect(c.healthPort).toBe(4001)
    expect(c.wsPath).toBe('/collab')
    expect(c.allowAnonymous).toBe(true)
  })

  it.each([
    ['', { kind: 'sqlite', path: path.join('data', 'collabd.sqlite'), synchronous: 'full' }],
    ['memory:', { kind: 'memory' }],
    ['sqlite:./x.db', { kind: 'sqlite', path: './x.db', synchronous: 'full' }],
    ['sqlite:///var/lib/collabd/db.sqlite', { kind: 'sqlite', path: '/var/lib/collabd/db.sqlite', synchronous: 'full' }],
  ])('DATABASE_URL=%j selects %j', (url, storage) => {
    expect(loadConfig({ DATABASE_URL: url }).storage).toEqual(storage)
  })

  it('names every invalid setting at once', () => {
    try {
      loadConfig({ PORT: 'abc', HEARTBEAT_INTERVAL_MS: '-5', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' })
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      const message = (err as ConfigError).message
      for (const name of ['PORT', 'HEARTBEAT_INTERVAL_MS', 'LOG_LEVEL']) expect(message).toContain(name)
    }
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/)
  })

  it('selects PostgreSQL with its pool size and migration setting, and never shows the password', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u:pw@db:5432/app', PG_POOL_SIZE: '4', MIGRATE_ON_START: 'false' }).storage)
      .toEqual({ kind: 'postgres', url: 'postgres://u:pw@db:5432/app', poolSize: 4, migrate: false })
    expect(loadConfig({ DATABASE_URL: 'postgresql://db/app' }).storage.kind).toBe('postgres')
    expect(describeStorage(loadConfig({ DATABASE_URL: 'postgres://u:pw@db:5432/app' }).storage)).not.toContain('pw')
  })
})

/** The problems of a configuration that must fail. */
function problems (env: Record<string, string>, overrides: Record<string, unknown> = {}, options: { storeGiven?: boolean } = {}): readonly string[] {
  try {
    loadConfig(env, overrides, options)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).problems
  }
  throw new Error('the configuration was accepted')
}

describe('configuration messages', () => {
  it('say what is wanted, one sentence each naming the variable', () => {
    expect(problems({ PORT: 'abc', HEARTBEAT_INTERVAL_MS: '-5', MAX_CONNECTIONS: '0', WARM_UP: 'maybe', LOG_FORMAT: 'xml', REDIS_URL: 'http://x' })).toEqual([
      'PORT must be a whole number from 0 to 65535 (got "abc")',
      'REDIS_URL must be a redis:// or rediss:// URL',
      'HEARTBEAT_INTERVAL_MS must be a whole number of at least 100 (got "-5")',
      'MAX_CONNECTIONS must be a positive whole number (got "0")',
      'WARM_UP must be true or false (got "maybe")',
      'LOG_FORMAT must be one of json, pretty, auto (got "xml")',
    ])
    expect(problems({ PORT: '3001', HEALTH_PORT: '3001' })).toEqual(['HEALTH_PORT must differ from PORT (both are 3001)'])
  })

  it('refuse REDIS_URL without a store every instance shares, unless the caller passes its own store', () => {
    const envs: Array<Record<string, string>> = [{}, { DATABASE_URL: 'memory:' }, { DATABASE_URL: 'sqlite:/srv/x.sqlite' }]
    for (const env of envs) {
      const [problem, ...rest] = problems({ REDIS_URL: 'redis://127.0.0.1:6379', ...env })
      expect(rest).toEqual([])
      expect(problem).toMatch(/^REDIS_URL .*DATABASE_URL .*PostgreSQL/)
    }
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://db/app' }).redis?.url).toBe('redis://127.0.0.1:6379')
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }, {}, { storeGiven: true }).redis?.url).toBe('redis://127.0.0.1:6379')
  })
})

describe('library overrides', () => {
  it('go through the rules of the variable they stand for', () => {
    expect(problems({}, { port: -1 })).toEqual(['port must be a whole number from 0 to 65535 (got "-1")'])
    expect(problems({}, { port: '3001' })).toEqual(['port must be a whole number (got "3001")'])
    expect(problems({}, { heartbeatIntervalMs: 5, logFormat: 'xml', portt: 1 })).toEqual([
      'portt is not a collabd setting',
      'heartbeatIntervalMs must be a whole number of at least 100 (got "5")',
      'logFormat must be one of json, pretty, auto (got "xml")',
    ])
    expect(() => createServer({ env: {}, config: { port: -1 } })).toThrow(ConfigError)
    // Derived the same way as from the environment: the trailing slash goes.
    expect(loadConfig({}, { wsPath: '/collab/' }).wsPath).toBe('/collab')
  })

  it('validate nested settings as their group of variables, replacing the environment\'s group', () => {
    expect(problems({}, { storage: { kind: 'postgres', url: 'postgres://db/app', poolSize: 0, migrate: true } })).toEqual(['storage (PG_POOL_SIZE) must be a whole number from 1 to 1000 (got "0")'])
    expect(problems({}, { storage: { kind: 'mysql' } })[0]).toMatch(/^storage must be /)
    expect(problems({}, { redis: { url: 'redis://r', prefix: 'p:', peerTimeoutMs: 10 } }, { storeGiven: true })).toEqual(['redis (REDIS_PEER_TIMEOUT_MS) must be a whole number from 500 to 600000 (got "10")'])
    // The override replaces DATABASE_URL and its companions; the environment's pool size is not mixed in.
    expect(loadConfig({ DATABASE_URL: 'postgres://env/db', PG_POOL_SIZE: '3' }, { storage: { kind: 'sqlite', path: 'x.sqlite', synchronous: 'normal' } }).storage)
      .toEqual({ kind: 'sqlite', path: 'x.sqlite', synchronous: 'normal' })
    const auth = loadConfig({ JWT_SECRET: 'x'.repeat(40) }).auth
    expect(problems({}, { auth: { ...auth, jwt: { ...auth.jwt!, secret: 'short' } } })).toEqual(['JWT_SECRET must be at least 32 characters (a short HMAC secret can be brute-forced)'])
    expect(createServer({ env: {}, store: new MemoryStore(), config: { redis: { url: 'redis://127.0.0.1:6379', prefix: 'p:', peerTimeoutMs: 1000 } } }).config.redis?.prefix).toBe('p:')
  })

  it('accept every field of a full configuration unchanged (a field added to Config must be handled)', () => {
    const full = loadConfig({
      DATABASE_URL: 'postgres://u:pw@db/app', REDIS_URL: 'redis://r:6379', HEALTH_PORT: '9001', ADMIN_TOKEN: 'a'.repeat(32),
      JWT_SECRET: 'j'.repeat(40), JWT_ISSUER: 'me', JWT_COOKIE: 'tok', BETTER_AUTH_SECRET: 'b', AUTHORIZE_URL: 'http://app/authorize',
      AUTHORIZE_TOKEN: 't', DOCUMENT_NAME_PATTERN: '^[a-z]+$', ACCESS_POLICY: 'grants',
    })
    const again = loadConfig({}, full)
    expect({ ...again, documentNamePattern: String(again.documentNamePattern) }).toEqual({ ...full, documentNamePattern: String(full.documentNamePattern) })
    const defaults = loadConfig({})
    expect(loadConfig({ PORT: '1', LOG_LEVEL: 'debug' }, defaults)).toEqual(defaults)
  })
})

describe('documentation', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const configuration = readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8')
  const example = readFileSync(path.join(ROOT, '.env.example'), 'utf8')
  const regenerate = 'run `npm run build && node scripts/env-docs.mjs write`'

  it('docs/configuration.md holds exactly the table generated from ENVIRONMENT', () => {
    expect(configuration, `docs/configuration.md differs from what ENVIRONMENT generates: ${regenerate}`).toBe(withTable(configuration, table(ENVIRONMENT)))
    // The generated table is really there, between its markers, one row per setting.
    const between = configuration.slice(configuration.indexOf(TABLE_START), configuration.indexOf(TABLE_END))
    expect(between.split('\n').filter((l) => l.startsWith('| `'))).toHaveLength(ENVIRONMENT.length)
  })

  it('.env.example is exactly the file generated from ENVIRONMENT, and says who reads it', () => {
    expect(example, `.env.example differs from what ENVIRONMENT generates: ${regenerate}`).toBe(envExample(ENVIRONMENT))
    expect(example.split('\n').slice(0, 4).join('\n')).toMatch(/every `collabd`\n# command .* reads \.\/\.env.*createServer\(\)\n# .* does not read it/s)
  })

  it.each(ENVIRONMENT.map((s) => [s.name, s.default]))('documents %s (default %j) in docs/configuration.md, .env.example and --help', (name, def) => {
    const row = configuration.split('\n').find((l) => l.startsWith(`| \`${name}\``))
    expect(row, `docs/configuration.md table row for ${name}`).toBeDefined()
    if (def !== '') expect(row).toContain(`\`${def}\``)
    expect(example).toMatch(new RegExp(`^# ${name}=${def.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'))
    expect(globalHelp()).toMatch(new RegExp(`^ {2}${name} `, 'm'))
  })

  it('opens the README with the two commands, and CI runs the README\'s test command', () => {
    expect(readme.split('\n').slice(0, 16).join('\n')).toContain('npm ci && npm start')
    expect(readme).toContain('npm test')
    const ci = readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8')
    expect(ci).toContain('npm ci')
    expect(ci).toContain('npm test')
  })
})
