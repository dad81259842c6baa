// The `tend` command line: yargs over the table of commands in command-table.ts, whose handlers
// import their command lazily so `tend --help` starts fast.
// Exit codes: 0 success, 1 the operation failed or found problems, 2 a usage error.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yargs, { type Argv } from 'yargs';
import { PACKAGE_ROOT } from '../edges/assets.js';
import { TendError } from '../core/problem.js';
import { endQuietlyOnClosedPipe } from './output.js';
import { COMMANDS, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CommandContext } from './command-table.js';

const USAGE = [
  '$0 <command>',
  '',
  'A git-native orchestrator for AI coding agents: a Markdown backlog in backlog/,',
  'moved through pipelines of phases by fresh agent CLIs, one git commit per transition.',
].join('\n');

/** tend's version, from its package.json: yargs would look for it beside its own copy, not in the bundle. */
function version(): string {
  return (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

function reportError(err: unknown): number {
  if (err instanceof TendError) {
    process.stderr.write(`tend: ${err.message}\n${err.fix ? `  fix: ${err.fix}\n` : ''}`);
    return EXIT_FAILURE;
  }
  const sys = err as NodeJS.ErrnoException;
  if (sys instanceof Error && typeof sys.code === 'string' && typeof sys.path === 'string') {
    // The file system said no (a file where a folder should be, no space, no permission).
    process.stderr.write(
      `tend: ${sys.message}\n  fix: check ${sys.path} (${sys.code}): it must be a folder or file tend can write\n`,
    );
    return EXIT_FAILURE;
  }
  process.stderr.write(`tend: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT_FAILURE;
}

export async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedPipe(); // `tend status | head` ends quietly, as `tend log | head` does
  let code = EXIT_OK;
  const context: CommandContext = {
    cwd: process.cwd(),
    // yargs hands a lone `-` positional over as an empty string, so look at the raw arguments.
    stdinBody: argv[0] === 'add' && argv.includes('-'),
  };
  let cli: Argv = yargs(argv).scriptName('tend').usage(USAGE);
  for (const entry of COMMANDS) {
    cli = cli.command(
      entry.command,
      // yargs hides a command whose description is false; its typings only name strings.
      entry.describe as string,
      (y) => entry.builder(y, context),
      async (args) => {
        // yargs still calls the handler after reporting a usage error.
        if (code === EXIT_USAGE) return;
        try {
          code = (await entry.run(args, context)) ?? EXIT_OK;
        } catch (err) {
          code = reportError(err);
        }
      },
    );
  }
  cli = cli
    .demandCommand(1, 'name a command; see `tend --help`')
    .strict()
    .recommendCommands()
    .help()
    .alias('help', 'h')
    .version(version())
    // tend speaks English; yargs's own messages too (its translations are not in the bundle).
    .detectLocale(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((msg, err) => {
      // yargs reports its own usage errors with `msg`; anything else is a real failure.
      if (err && msg !== err.message) throw err;
      process.stderr.write(`tend: ${msg ?? err?.message}\nrun \`tend --help\` for usage\n`);
      code = EXIT_USAGE;
    });
  try {
    await cli.parseAsync();
  } catch (err) {
    return reportError(err);
  }
  return code;
}
