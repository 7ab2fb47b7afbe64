#!/usr/bin/env node
// Prints the environment-variable documentation from src/config.ts' ENVIRONMENT (built):
//   node scripts/env-docs.mjs table    -> the README's configuration table
//   node scripts/env-docs.mjs example  -> .env.example
// test/unit/config.test.ts fails when README.md or .env.example miss a variable or its default.
import { ENVIRONMENT } from '../dist/config.js'

const mode = process.argv[2]
if (mode === 'table') {
  console.log('| Variable | Default | What it does |')
  console.log('| --- | --- | --- |')
  for (const s of ENVIRONMENT) console.log(`| \`${s.name}\` | ${s.default === '' ? '(unset)' : `\`${s.default}\``} | ${s.doc.replace(/\|/g, '\\|')} |`)
} else if (mode === 'example') {
  console.log('# collabd configuration. Copy to .env (read by `collabd start`; real environment variables win).')
  console.log('# Every value below is the default; uncomment to change it.')
  for (const s of ENVIRONMENT) {
    console.log('')
    console.log(`# ${s.doc}`)
    console.log(`# ${s.name}=${s.default}`)
  }
} else {
  console.error('usage: env-docs.mjs table|example')
  process.exit(1)
}
