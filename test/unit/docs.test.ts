/**
 * The documents say what the code does: the close codes and reasons of docs/http.md against the
 * reasons src/ sends, the exit codes of docs/cli.md against `--help`, the README's compatibility
 * table against package-lock.json, the README's order, and every relative link between the
 * documents. (The environment table is config.test.ts's; the README's code blocks run in
 * test/integration/readme.test.ts.)
 */
import { generateKeyPairSync } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../../src/cli/help.js'
import { ENVIRONMENT, loadConfig } from '../../src/config.js'
import { CloseCode } from '../../src/errors.js'
import { ROOT } from '../helpers/paths.js'

const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8')

/** Every .ts file under src/ except the benchmark tool, with its text. */
function sources (dir = path.join(ROOT, 'src')): Array<{ file: string, text: string }> {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    if (statSync(full).isDirectory()) return name === 'bench' ? [] : sources(full)
    return name.endsWith('.ts') ? [{ file: path.relative(ROOT, full), text: readFileSync(full, 'utf8') }] : []
  })
}

/** A string literal of the code as a pattern: `${...}` in a template matches any text. */
const literalPattern = (literal: string): RegExp =>
  new RegExp(`^${literal.split(/\$\{[^}]*\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+')}$`)

describe('docs/http.md, close codes', () => {
  const http = read('docs/http.md')
  const src = sources()
  const codeByName = CloseCode as Readonly<Record<string, number>>
  /** Codes the ws library sends by itself (protocol errors, oversized messages), without a reason. */
  const WS_OWN = new Set([1002, 1009])

  /** Rows `| 1008 | reasons | when |` of the close-code table. */
  const rows = http.split('\n').flatMap((line) => {
    const m = /^\| (\d{4}) \| ([^|]*) \|/.exec(line)
    return m === null ? [] : [{ code: Number(m[1]), reasons: [...m[2]!.matchAll(/`([^`]+)`/g)].map((r) => r[1]!), none: m[2]!.trim() === '(none)' }]
  })
  /** Reasons of the Hocuspocus per-document table (`| PermissionDenied | reasons | when |`). */
  const documentReasons = http.split('\n').flatMap((line) => {
    const m = /^\| `(?:PermissionDenied|Close)` \| ([^|]*) \|/.exec(line)
    return m === null ? [] : [...m[1]!.matchAll(/`([^`]+)`/g)].map((r) => r[1]!)
  })
  // Templates that are mostly placeholders (`${what}: ${why}`) would match any text: only those
  // with at least 8 characters of their own count.
  const literals = src.flatMap(({ text }) => [...text.matchAll(/'([^'\n]+)'|`([^`\n]+)`/g)].map((m) => m[1] ?? m[2]!))
    .filter((l) => l.replace(/\$\{[^}]*\}/g, '').length >= 8)

  it('lists close codes collabd has, or that ws sends by itself without a reason', () => {
    expect(rows.length).toBeGreaterThan(15)
    const known = new Set(Object.values(codeByName))
    for (const row of rows) {
      if (WS_OWN.has(row.code)) expect(row.none, `${row.code} is sent by ws without a reason`).toBe(true)
      else expect(known, `close code ${row.code} in docs/http.md`).toContain(row.code)
    }
  })

  it('gives every reason as the code spells it', () => {
    const documented = [...rows.flatMap((r) => r.reasons), ...documentReasons]
    expect(documented.length).toBeGreaterThan(20)
    for (const reason of documented) {
      expect(literals.some((l) => literalPattern(l).test(reason)), `"${reason}" (docs/http.md) is not a string in src/`).toBe(true)
    }
  })

  /** What the code closes with or tells a client: [close code or null, reason, where]. */
  const sent: Array<[number | null, string, string]> = []
  for (const { file, text } of src) {
    const add = (code: number | null, reason: string): void => { sent.push([code, reason, file]) }
    for (const m of text.matchAll(/\b(?:close|evict|evictAll)\s*\((?:\w+, )?CloseCode\.(\w+), '([^'\n]+)'\)/g)) add(codeByName[m[1]!]!, m[2]!)
    // An error's close code and public reason in one object literal (no closing brace between).
    for (const m of text.matchAll(/closeCode: (?:opts\.closeCode \?\? )?CloseCode\.(\w+),[^}]*?publicReason: (?:opts\.publicReason \?\? )?'([^'\n]+)'/g)) add(codeByName[m[1]!]!, m[2]!)
    // A LimitError without a close code closes with its default, 1008.
    for (const m of text.matchAll(/new LimitError\([^{]*\{ publicReason: '([^'\n]+)' \}/g)) add(CloseCode.policyViolation, m[1]!)
    // Reasons sent in a message (PermissionDenied, Close) or picked at run time.
    for (const m of text.matchAll(/(?:permissionDenied|closeByServer)\('([^'\n]+)'\)|publicReason = [^\n]*?'([^'\n]+)'|publicReason \?\? '([^'\n]+)'/g)) add(null, m[1] ?? m[2] ?? m[3]!)
  }
  // The document-name rule's reasons are shown to clients as they are.
  for (const m of read('src/documents/names.ts').matchAll(/return ['`](document name [^'`]+)['`]/g)) sent.push([null, m[1]!, 'src/documents/names.ts'])

  it('documents every reason the code sends, in the row of the code it is sent with', () => {
    expect(sent.length).toBeGreaterThan(15)
    const everywhere = [...http.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!)
    for (const [code, reason, file] of sent) {
      const pattern = literalPattern(reason)
      expect(everywhere.some((d) => pattern.test(d)), `"${reason}" (${file}) is not in docs/http.md`).toBe(true)
      if (code !== null) {
        expect(rows.some((r) => r.code === code && r.reasons.some((d) => pattern.test(d))), `"${reason}" (${file}) is sent with ${code}: docs/http.md's ${code} row should list it`).toBe(true)
      }
    }
  })
})

describe('docs/configuration.md, JWT algorithms', () => {
  it('names the algorithms loadConfig accepts for a secret and for a key, as JWT_ALGORITHMS does', () => {
    const withSecret = loadConfig({ JWT_SECRET: 's'.repeat(32) }).auth.jwt!.algorithms
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const withKey = loadConfig({ JWT_PUBLIC_KEY: pem }).auth.jwt!.algorithms
    const doc = ENVIRONMENT.find((s) => s.name === 'JWT_ALGORITHMS')!.doc
    expect(doc).toContain(`${withSecret.join(',')} with a secret; ${withKey.join(',')} with a key or JWKS`)
    const jwt = read('docs/configuration.md').split('### JWT')[1]!.split('\n### ')[0]!
    const listed = (sentence: string): string[] => [...sentence.matchAll(/\b(HS|RS|PS|ES)\d{3}\b|\bEdDSA\b/g)].map((m) => m[0])
    expect(listed(jwt.split('- `JWT_SECRET`')[1]!.split('\n- ')[0]!)).toEqual(withSecret)
    expect(listed(jwt.split('- `JWT_PUBLIC_KEY`')[1]!.split('\n- ')[0]!)).toEqual(withKey)
  })
})

describe('docs/cli.md', () => {
  it('gives the exit codes exactly as collabd --help prints them', () => {
    expect(read('docs/cli.md')).toContain(EXIT_CODES)
  })
})

describe('README.md', () => {
  const readme = read('README.md')

  it('keeps a newcomer\'s order, in about 150-200 lines', () => {
    const lines = readme.split('\n').length
    expect(lines).toBeGreaterThan(140)
    expect(lines).toBeLessThan(215)
    const headings = readme.split('\n').filter((l) => l.startsWith('## ')).map((l) => l.slice(3))
    expect(headings).toEqual(['Check it works', 'Connecting clients', 'Adding authentication', 'Deploying', 'Performance', 'Documentation', 'Compatibility', 'License'])
    // The two commands come before any heading.
    expect(readme.indexOf('npm ci && npm start')).toBeLessThan(readme.indexOf('\n## '))
  })

  it('gives the versions of package-lock.json and engines in its compatibility table', () => {
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version?: string }> }
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node
    const table = readme.slice(readme.indexOf('## Compatibility'))
    const packageRows = table.split('\n').filter((l) => /^\| `[@\w/.-]+` \|/.test(l))
    expect(packageRows.length).toBeGreaterThanOrEqual(4)
    for (const row of packageRows) {
      const [, name, version] = /^\| `([@\w/.-]+)` \| ([\d.]+) \|/.exec(row) ?? []
      expect(name, row).toBeDefined()
      expect(version, `${name}: docs say ${version}, package-lock.json has ${lock.packages[`node_modules/${name}`]?.version}`).toBe(lock.packages[`node_modules/${name}`]?.version)
    }
    for (const name of ['y-websocket', '@hocuspocus/provider', 'better-auth']) expect(packageRows.some((r) => r.startsWith(`| \`${name}\` |`)), name).toBe(true)
    const node = table.split('\n').find((l) => l.startsWith('| Node.js |'))!
    expect(node.replace(/\\\|/g, '|')).toContain(engines)
    expect(node).toContain(/^\^?(\d+\.\d+\.\d+)/.exec(engines)![1])
  })
})

describe('links between the documents', () => {
  const docs = ['README.md', 'CHANGELOG.md', 'ARCHITECTURE.md', 'src/protocol/PROTOCOL.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]

  /** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
  const anchor = (heading: string): string => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')
  const anchorsOf = (file: string): Set<string> =>
    new Set(readFileSync(file, 'utf8').split('\n').filter((l) => /^#{1,6} /.test(l)).map((l) => anchor(l.replace(/^#+ /, ''))))

  it.each(docs)('%s links only to files and headings that exist', (doc) => {
    const text = read(doc)
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue
      const [file, hash] = target!.split('#') as [string, string | undefined]
      const resolved = file === '' ? path.join(ROOT, doc) : path.resolve(path.dirname(path.join(ROOT, doc)), file)
      expect(existsSync(resolved), `${doc} links to ${target}, which does not exist`).toBe(true)
      if (hash !== undefined && resolved.endsWith('.md')) expect(anchorsOf(resolved), `${doc} links to ${target}: no such heading`).toContain(hash)
    }
  })
})
