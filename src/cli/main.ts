// The `tend` command line. Handlers import their command lazily so `tend --help` starts fast.
// Exit codes: 0 success, 1 the operation failed or found problems, 2 a usage error.
import { readFile } from 'node:fs/promises';
import yargs, { type Argv } from 'yargs';
import { TendError } from '../core/problem.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function readBodyFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new TendError(
      `cannot read --body-file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      'check the path',
      { cause: err },
    );
  }
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

const json = {
  json: { type: 'boolean', default: false, describe: 'print JSON (a stable schema, see README)' },
} as const;

export async function main(argv: string[]): Promise<number> {
  let code = EXIT_OK;
  const cwd = process.cwd();
  // yargs hands a lone `-` positional over as an empty string, so look at the raw arguments.
  const stdinBody = argv[0] === 'add' && argv.includes('-');
  const run = (fn: () => Promise<number | void>) => async () => {
    // yargs still calls the handler after reporting a usage error.
    if (code === EXIT_USAGE) return;
    try {
      code = (await fn()) ?? EXIT_OK;
    } catch (err) {
      code = reportError(err);
    }
  };

  const cli: Argv = yargs(argv)
    .scriptName('tend')
    .usage(
      '$0 <command>\n\nA git-native orchestrator for AI coding agents: a Markdown backlog in backlog/,\nmoved through pipelines of phases by fresh agent CLIs, one git commit per transition.',
    )
    .command(
      'init',
      'set up this repository: ORCHESTRATOR.md, pipelines/, prompts/, backlog/ (runs git init if needed)',
      (y) => y.example('$0 init', 'install the defaults and commit them'),
      () =>
        run(async () => {
          const { init } = await import('./commands/init.js');
          const result = await init(cwd);
          if (result.createdRepo) process.stdout.write(`initialized a git repository in ${result.root}\n`);
          for (const f of result.created) process.stdout.write(`created ${f}\n`);
          for (const f of result.kept) process.stdout.write(`kept    ${f} (already exists)\n`);
          for (const f of result.recovered) {
            process.stdout.write(`found   ${f} (written by an earlier tend init, not committed until now)\n`);
          }
          process.stdout.write(
            result.commit ? `committed ${result.commit.slice(0, 8)}\n` : 'nothing to do: already initialized\n',
          );
        })(),
    )
    .command(
      'add <title> [stdin]',
      'add an item to the inbox (backlog/<slug>.md) and commit it',
      (y) =>
        y
          .positional('title', { type: 'string', describe: 'what needs doing' })
          .positional('stdin', { type: 'string', describe: 'a lone `-` reads the body from standard input' })
          .option('priority', { alias: 'p', type: 'number', describe: '1 (most urgent) to 5 (someday)', default: 3 })
          .option('pipeline', { type: 'string', describe: 'pipeline to follow (default: chosen by triage)' })
          .option('label', { alias: 'l', type: 'string', array: true, describe: 'a label; repeat for more' })
          .option('depends-on', {
            alias: 'd',
            type: 'string',
            array: true,
            describe: 'id of an item that must be done first; repeat for more',
          })
          .option('body', { alias: 'b', type: 'string', describe: 'the item text' })
          .option('body-file', { type: 'string', describe: 'read the item text from this file' })
          .conflicts('body', 'body-file')
          .check((a) => {
            if (!Number.isInteger(a.priority) || a.priority < 1 || a.priority > 5)
              throw new Error('--priority must be an integer from 1 to 5');
            if (a.stdin !== undefined && !stdinBody)
              throw new Error(`unexpected argument ${JSON.stringify(a.stdin)}; put the title in quotes`);
            if (stdinBody && (a.body !== undefined || a['body-file'] !== undefined))
              throw new Error('`-` cannot be combined with --body or --body-file');
            return true;
          })
          .example('$0 add "Fix login on Safari" -p 1 -l bug', '')
          .example('echo "Steps to reproduce..." | $0 add "Fix login" -', 'body from stdin'),
      (args) =>
        run(async () => {
          const [{ add }, { openRepo }] = await Promise.all([import('./commands/add.js'), import('../edges/repo.js')]);
          const body = stdinBody
            ? await readStdin()
            : args['body-file']
              ? await readBodyFile(args['body-file'])
              : args.body;
          const result = await add(await openRepo(cwd), {
            title: String(args.title),
            priority: args.priority,
            pipeline: args.pipeline,
            labels: args.label?.map(String),
            dependsOn: args['depends-on']?.map(String),
            body,
          });
          const note = result.leftover ? ', written by an earlier tend add and committed now' : '';
          process.stdout.write(`added ${result.id} (${result.file}${note})\n`);
        })(),
    )
    .command(
      'status',
      'show the board: the inbox, every phase, done and blocked, in scheduling order; invalid files with their errors',
      (y) => y.options(json),
      (args) =>
        run(async () => {
          const [{ status }, { openRepo }] = await Promise.all([
            import('./commands/status.js'),
            import('../edges/repo.js'),
          ]);
          await status(await openRepo(cwd), { json: args.json });
        })(),
    )
    .command(
      'show <id>',
      'show one item: frontmatter, text, artifacts and its transitions from git log',
      (y) => y.positional('id', { type: 'string', describe: 'the item id, as `tend status` shows it' }).options(json),
      (args) =>
        run(async () => {
          const [{ show }, { openRepo }] = await Promise.all([
            import('./commands/show.js'),
            import('../edges/repo.js'),
          ]);
          await show(await openRepo(cwd), String(args.id), { json: args.json });
        })(),
    )
    .command(
      'doctor',
      'check the repository, git identity, configuration, prompts and agent CLIs; print each problem with its fix',
      (y) => y.options(json),
      (args) =>
        run(async () => {
          const { doctor, printChecks } = await import('./commands/doctor.js');
          const checks = await doctor(cwd);
          printChecks(checks, args.json);
          return checks.some((c) => !c.ok && c.severity === 'error') ? EXIT_FAILURE : EXIT_OK;
        })(),
    )
    .command(
      'run',
      'move items through their pipelines: intake, phases, approvals, one commit per transition',
      (y) =>
        y
          .option('once', {
            type: 'boolean',
            default: false,
            describe: 'stop when nothing can move (all done, blocked, waiting or parked)',
          })
          .option('agent', { type: 'string', describe: 'use this agent for every phase of this run (e.g. dry-run)' })
          .option('concurrency', {
            alias: 'c',
            type: 'number',
            describe: 'agents at once (default: concurrency in ORCHESTRATOR.md)',
          })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print only the summary' })
          .option('poll', {
            type: 'boolean',
            default: false,
            describe: 'poll for file changes instead of file system events (network drives)',
          })
          .options(json)
          .check((a) => {
            if (a.concurrency !== undefined && (!Number.isInteger(a.concurrency) || a.concurrency < 1))
              throw new Error('--concurrency must be a whole number, 1 or more');
            return true;
          })
          .example('$0 run --once --agent dry-run', 'exercise the pipelines without spending anything')
          .example('$0 run', 'keep running and pick up new work'),
      (args) =>
        run(async () => {
          const { runCommand } = await import('./commands/run.js');
          return runCommand(cwd, {
            once: args.once,
            agent: args.agent,
            concurrency: args.concurrency,
            quiet: args.quiet,
            json: args.json,
            poll: args.poll,
          });
        })(),
    )
    .command(
      'approve <id>',
      'approve an item waiting for a human: it moves on to its next phase',
      (y) => y.positional('id', { type: 'string', describe: 'the item id' }),
      (args) =>
        run(async () => {
          const { approve, openForAction } = await import('./commands/item-actions.js');
          process.stdout.write(`${await approve(await openForAction(cwd, String(args.id)), String(args.id))}\n`);
        })(),
    )
    .command(
      'reject <id>',
      'reject an item waiting for a human: back to its on_reject phase (or the same one) with your reason, or --block',
      (y) =>
        y
          .positional('id', { type: 'string', describe: 'the item id' })
          .option('reason', {
            alias: 'r',
            type: 'string',
            demandOption: true,
            describe: 'what must change; the next agent reads it',
          })
          .option('block', { type: 'boolean', default: false, describe: 'move it to backlog/blocked/ instead' }),
      (args) =>
        run(async () => {
          const { reject, openForAction } = await import('./commands/item-actions.js');
          process.stdout.write(
            `${await reject(await openForAction(cwd, String(args.id)), String(args.id), args.reason, args.block)}\n`,
          );
        })(),
    )
    .command(
      'retry <id>',
      'put a blocked item back in the phase it was blocked in (attempts reset), or retry a failed or parked item now',
      (y) => y.positional('id', { type: 'string', describe: 'the item id' }),
      (args) =>
        run(async () => {
          const { retry, openForAction } = await import('./commands/item-actions.js');
          process.stdout.write(`${await retry(await openForAction(cwd, String(args.id)), String(args.id))}\n`);
        })(),
    )
    .demandCommand(1, 'name a command; see `tend --help`')
    .strict()
    .recommendCommands()
    .help()
    .alias('help', 'h')
    .version()
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
