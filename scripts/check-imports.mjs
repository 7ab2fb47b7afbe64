#!/usr/bin/env node
// Fails on a circular import between modules of src/ and on an import that breaks the layering
// ARCHITECTURE.md describes (protocol -> server -> documents -> storage; scaling beside
// documents). Type-only imports count too: a cycle of types is still a tangle.
import { readFileSync, readdirSync, statSync } from 'node:fs'
import * as path from 'node:path'

const root = path.resolve(import.meta.dirname, '..', 'src')

/** folder -> folders it must not import from */
const FORBIDDEN = {
  protocol: ['server', 'documents', 'storage', 'auth', 'http', 'scaling'],
  storage: ['server', 'documents', 'auth', 'http', 'protocol', 'scaling'],
  auth: ['server', 'documents', 'storage', 'http', 'protocol', 'scaling'],
  documents: ['server', 'auth', 'http', 'scaling'],
  // Relays between instances; the store stays each instance's own business. The server gets
  // the cluster from the composition root (src/index.ts) as documents/cluster.ts's interface.
  scaling: ['server', 'storage', 'auth', 'http'],
  http: ['server', 'documents', 'protocol', 'scaling'],
  // The benchmark drives servers from outside, over the wire, like any client.
  bench: ['server', 'documents', 'storage', 'auth', 'http', 'scaling'],
  server: ['scaling'],
}

/**
 * folder -> folder -> the only files of it that it may import. scaling/ sees documents/ through
 * the interfaces both ways (documents/cluster.ts) and no concrete class of it.
 */
const ONLY = {
  scaling: { documents: ['documents/cluster.ts'] },
}

function files (dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    return statSync(full).isDirectory() ? files(full) : full.endsWith('.ts') ? [full] : []
  })
}

const graph = new Map()
const problems = []
for (const file of files(root)) {
  const source = readFileSync(file, 'utf8')
  const deps = []
  for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = path.resolve(path.dirname(file), match[1].replace(/\.js$/, '.ts'))
    deps.push(target)
    const fromFolder = path.relative(root, file).split(path.sep)[0]
    const toFolder = path.relative(root, target).split(path.sep)[0]
    const relTarget = path.relative(root, target).split(path.sep).join('/')
    if (FORBIDDEN[fromFolder]?.includes(toFolder)) {
      problems.push(`layering: ${path.relative(root, file)} imports ${relTarget} (${fromFolder}/ must not depend on ${toFolder}/)`)
    }
    const only = ONLY[fromFolder]?.[toFolder]
    if (only !== undefined && !only.includes(relTarget)) {
      problems.push(`layering: ${path.relative(root, file)} imports ${relTarget} (${fromFolder}/ may use only ${only.join(', ')} of ${toFolder}/)`)
    }
  }
  graph.set(file, deps)
}

const state = new Map() // file -> 'visiting' | 'done'
const stack = []
function visit (file) {
  if (state.get(file) === 'done') return
  if (state.get(file) === 'visiting') {
    const cycle = stack.slice(stack.indexOf(file)).concat(file).map((f) => path.relative(root, f))
    problems.push(`cycle: ${cycle.join(' -> ')}`)
    return
  }
  state.set(file, 'visiting')
  stack.push(file)
  for (const dep of graph.get(file) ?? []) visit(dep)
  stack.pop()
  state.set(file, 'done')
}
for (const file of graph.keys()) visit(file)

if (problems.length > 0) {
  console.error(`check-imports: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log(`check-imports: ${graph.size} modules, no cycles, layering respected`)
