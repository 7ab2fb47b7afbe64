/**
 * Configuration: defaults, validation that names every problem, storage URLs, and the
 * documentation of every variable (README table and .env.example) kept in step with the code.
 */
import { readFileSync } from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { describeStorage } from '../../src/storage/index.js'
import { ConfigError, ENVIRONMENT, loadConfig } from '../../src/index.js'
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

describe('documentation', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const example = readFileSync(path.join(ROOT, '.env.example'), 'utf8')

  it.each(ENVIRONMENT.map((s) => [s.name, s.default]))('documents %s (default %j) in README and .env.example', (name, def) => {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\``))
    expect(row, `README table row for ${name}`).toBeDefined()
    if (def !== '') expect(row).toContain(`\`${def}\``)
    expect(example).toMatch(new RegExp(`^#? ?${name}=`, 'm'))
  })

  it('opens the README with the two commands, and CI runs the README\'s test command', () => {
    expect(readme.split('\n').slice(0, 12).join('\n')).toContain('npm ci && npm start')
    expect(readme).toContain('npm test')
    const ci = readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8')
    expect(ci).toContain('npm ci')
    expect(ci).toContain('npm test')
  })
})
