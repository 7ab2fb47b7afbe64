#!/usr/bin/env node
/**
 * The `collabd` command. Configuration comes from environment variables (see --help); the
 * commands are small wrappers around the library, in cli/. Every failure is one line on stderr
 * and an exit code that says what kind it was (cli/help.ts, EXIT_CODES).
 */
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { explain, report } from './cli/failure.js'
import { commandHelp, findCommand, globalHelp, usageHint, VERSION } from './cli/help.js'
import { exportDocument, importDocument, manageAccess, migrate } from './cli/manage.js'
import { start } from './cli/start.js'
import { loadConfig, type Config } from './config.js'

async function main (): Promise<number> {
  // `bench` has options of its own.
  if (process.argv[2] === 'bench') {
    const { benchMain } = await import('./bench/cli.js')
    return await benchMain(process.argv.slice(3))
  }
  let parsed
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    })
  } catch (err) {
    // Node's message goes on about positionals after '--'; its first sentence is the news.
    const first = (err as Error).message.split('. ')[0]!
    process.stderr.write(`collabd: ${first.charAt(0).toLowerCase()}${first.slice(1)}\n${usageHint()}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.version === true) {
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  const [name, ...args] = positionals
  if (name === undefined) {
    if (values.help === true) {
      process.stdout.write(globalHelp())
      return 0
    }
    process.stderr.write(`collabd: which command?\n${usageHint()}`)
    return 2
  }
  const command = findCommand(name)
  if (command === undefined) {
    process.stderr.write(`collabd: unknown command "${name}"\n${usageHint()}`)
    return 2
  }
  if (command.name === 'help') {
    const about = args[0] === undefined ? undefined : findCommand(args[0])
    if (args[0] !== undefined && about === undefined) {
      process.stderr.write(`collabd: unknown command "${args[0]}"\n${usageHint()}`)
      return 2
    }
    process.stdout.write(about === undefined ? globalHelp() : commandHelp(about))
    return 0
  }
  if (values.help === true) {
    process.stdout.write(commandHelp(command))
    return 0
  }

  // Everything below reads the configuration: the environment and ./.env.
  if (existsSync('.env')) process.loadEnvFile('.env')
  let config: Config | null = null
  try {
    config = loadConfig(process.env)
    switch (command.name) {
      case 'start':
        if (args.length > 0) return report(null, { lines: [`start takes no arguments; usage: ${command.usage}`], exitCode: 2 }, undefined)
        return await start(config)
      case 'migrate': return await migrate(config, args, command.usage)
      case 'export': return await exportDocument(config, args, command.usage)
      case 'import': return await importDocument(config, args, command.usage)
      case 'grant':
      case 'revoke':
      case 'access': return await manageAccess(config, command.name, args, command.usage)
      default: throw new Error(`command "${command.name}" has no implementation`)
    }
  } catch (err) {
    return report(err, explain(err, config), config?.logLevel ?? process.env.LOG_LEVEL)
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Only a bug gets here (every command reports its own failures): the stack is for its report.
    process.stderr.write(`collabd: ${(err as Error)?.stack ?? String(err)}\n`)
    process.exit(1)
  },
)
