#!/usr/bin/env node
// The environment-variable documentation, generated from src/config.ts' ENVIRONMENT:
//   node scripts/env-docs.mjs table    -> prints the table of docs/configuration.md
//   node scripts/env-docs.mjs example  -> prints .env.example
//   node scripts/env-docs.mjs write    -> writes both into place (after `npm run build`)
// The table sits in docs/configuration.md between the two TABLE_START/TABLE_END comments.
// test/unit/config.test.ts fails when either file differs from what this script generates.
import { readFileSync, writeFileSync } from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

export const TABLE_START = '<!-- environment table: generated from src/config.ts by `node scripts/env-docs.mjs write`; do not edit by hand -->'
export const TABLE_END = '<!-- end of the environment table -->'

/** @param {ReadonlyArray<{ name: string, default: string, doc: string }>} environment */
export function table (environment) {
  const rows = ['| Variable | Default | What it does |', '| --- | --- | --- |']
  for (const s of environment) rows.push(`| \`${s.name}\` | ${s.default === '' ? '(unset)' : `\`${s.default}\``} | ${s.doc.replace(/\|/g, '\\|')} |`)
  return rows.join('\n') + '\n'
}

/** @param {ReadonlyArray<{ name: string, default: string, doc: string }>} environment */
export function example (environment) {
  const lines = [
    '# collabd configuration. Copy to .env in the directory you run collabd from: every `collabd`',
    '# command (and `npm start`) reads ./.env, and real environment variables win. createServer()',
    '# (collabd as a library) does not read it: it takes process.env and its `config` option.',
    '# Every value below is the default; uncomment to change it.',
  ]
  for (const s of environment) lines.push('', `# ${s.doc}`, `# ${s.name}=${s.default}`)
  return lines.join('\n') + '\n'
}

/**
 * `text` with the part between TABLE_START and TABLE_END replaced by `generated`.
 * @param {string} text
 * @param {string} generated
 */
export function withTable (text, generated) {
  const start = text.indexOf(TABLE_START)
  const end = text.indexOf(TABLE_END)
  if (start === -1 || end < start) throw new Error('docs/configuration.md lacks the environment table markers')
  return text.slice(0, start + TABLE_START.length) + '\n' + generated + text.slice(end)
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // Only when run as a script: the unit test imports the functions above without a build (and
  // a URL rather than a literal path keeps vitest from resolving dist/ for it).
  const { ENVIRONMENT } = await import(new URL('../dist/config.js', import.meta.url).href)
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
  const mode = process.argv[2]
  if (mode === 'table') {
    process.stdout.write(table(ENVIRONMENT))
  } else if (mode === 'example') {
    process.stdout.write(example(ENVIRONMENT))
  } else if (mode === 'write') {
    const docs = path.join(root, 'docs', 'configuration.md')
    writeFileSync(docs, withTable(readFileSync(docs, 'utf8'), table(ENVIRONMENT)))
    writeFileSync(path.join(root, '.env.example'), example(ENVIRONMENT))
  } else {
    console.error('usage: env-docs.mjs table|example|write')
    process.exit(1)
  }
}
