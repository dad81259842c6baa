// The commands of `tend`, one entry each: usage, help text, options, and a handler that imports
// its implementation only when the command runs, so `tend --help` and the data commands load
// nothing of the run loop or the agents.
import { readFile } from 'node:fs/promises';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { TendError } from '../core/problem.js';
import { OUTCOMES } from '../core/transition.js';
import type { Repo } from '../edges/repo.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** What every handler may need besides its arguments. */
export interface CommandContext {
  cwd: string;
  /** `tend add "Title" -`: yargs hands a lone `-` over as an empty string, so main looks at the raw argv. */
  stdinBody: boolean;
}

export interface TendCommand<A = never> {
  command: string;
  /** false hides the command from `tend --help` (git's merge driver, which people do not type). */
  describe: string | false;
  builder: (y: Argv, context: CommandContext) => Argv<A>;
  /** Returns the exit code (EXIT_OK when nothing is returned). */
  run: (args: ArgumentsCamelCase<A>, context: CommandContext) => Promise<number | void>;
}

/** Keeps each entry's argument types while the table holds them all. */
function command<A>(entry: TendCommand<A>): TendCommand<unknown> {
  return entry as unknown as TendCommand<unknown>;
}

const json = {
  json: { type: 'boolean', default: false, describe: 'print JSON (a stable schema, see README)' },
} as const;

const idPositional = (y: Argv) => y.positional('id', { type: 'string', describe: 'the item id' });

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

const init = command({
  command: 'init',
  describe: 'set up this repository: ORCHESTRATOR.md, pipelines/, prompts/, backlog/ (runs git init if needed)',
  builder: (y) => y.example('$0 init', 'install the defaults and commit them'),
  async run(_args, { cwd }) {
    const { init } = await import('../engine/setup.js');
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
  },
});

function addOptions(y: Argv, { stdinBody }: CommandContext) {
  return y
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
    .example('echo "Steps to reproduce..." | $0 add "Fix login" -', 'body from stdin');
}

const add = command({
  command: 'add <title> [stdin]',
  describe: 'add an item to the inbox (backlog/<slug>.md) and commit it',
  builder: addOptions,
  async run(args, { cwd, stdinBody }) {
    const [{ add }, { openRepo }] = await Promise.all([import('./commands/add.js'), import('../edges/repo.js')]);
    const body = stdinBody ? await readStdin() : args['body-file'] ? await readBodyFile(args['body-file']) : args.body;
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
  },
});

const status = command({
  command: 'status',
  describe: 'show the board: the inbox, every phase and blocked in scheduling order, the latest done; invalid files',
  builder: (y) =>
    y
      .option('all', {
        type: 'boolean',
        default: false,
        describe: 'show every done item, reading and checking each (slower with thousands)',
      })
      .option('done', {
        type: 'number',
        default: 5,
        describe: 'how many done items to show, the latest first',
      })
      .options(json)
      .check((a) => {
        if (!Number.isInteger(a.done) || a.done < 0) throw new Error('--done must be a whole number, 0 or more');
        return true;
      })
      .example('$0 status', 'the board, with the latest 5 done items and their count')
      .example('$0 status --all', 'every done item as well'),
  async run(args, { cwd }) {
    const [{ status }, { openRepo }] = await Promise.all([import('./commands/status.js'), import('../edges/repo.js')]);
    const repo = await openRepo(cwd, { finished: args.all ? 'read' : 'ids' });
    await status(repo, { json: args.json, done: args.all ? Infinity : args.done });
  },
});

const show = command({
  command: 'show <id>',
  describe: 'show one item: frontmatter, text, artifacts, what its work changed and its transitions from git log',
  builder: (y) =>
    y
      .positional('id', { type: 'string', describe: 'the item id, as `tend status` shows it' })
      .option('diff', {
        type: 'boolean',
        default: false,
        describe: 'also print the whole diff of its work (its branch, or the merge that landed it)',
      })
      .options(json)
      .example('$0 show fix-login --diff | less -R', 'the item and every line its work changed'),
  async run(args, { cwd }) {
    const [{ show }, { openRepo }] = await Promise.all([import('./commands/show.js'), import('../edges/repo.js')]);
    await show(await openRepo(cwd), String(args.id), { json: args.json, diff: args.diff });
  },
});

const doctor = command({
  command: 'doctor',
  describe:
    'check the repository, git identity, configuration, prompts and agent CLIs; print each problem with its fix',
  builder: (y) => y.options(json),
  async run(args, { cwd }) {
    const { doctor, printChecks } = await import('./commands/doctor.js');
    const checks = await doctor(cwd);
    printChecks(checks, args.json);
    return checks.some((c) => !c.ok && c.severity === 'error') ? EXIT_FAILURE : EXIT_OK;
  },
});

function runOptions(y: Argv) {
  return y
    .option('once', {
      type: 'boolean',
      default: false,
      describe: 'stop when nothing can move (all done, blocked, waiting or parked)',
    })
    .option('agent', { type: 'string', describe: 'use this agent for every phase of this run (e.g. dry-run)' })
    .option('concurrency', {
      alias: 'c',
      type: 'number',
      describe: "items worked on at once, a fan-out's lenses as one (default: concurrency in ORCHESTRATOR.md)",
    })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print only the summary' })
    .option('poll', {
      type: 'boolean',
      default: false,
      describe: 'poll for file changes instead of file system events (network drives)',
    })
    .option('sync', {
      type: 'string',
      describe: 'sync with this git remote (alone: git.remote): pull before planning, push each transition',
    })
    .options(json)
    .check((a) => {
      if (a.concurrency !== undefined && (!Number.isInteger(a.concurrency) || a.concurrency < 1))
        throw new Error('--concurrency must be a whole number, 1 or more');
      return true;
    })
    .example('$0 run --once --agent dry-run', 'exercise the pipelines without spending anything')
    .example('$0 run', 'keep running and pick up new work');
}

const run = command({
  command: 'run',
  describe: 'move items through their pipelines: intake, phases, approvals, one commit per transition',
  builder: runOptions,
  async run(args, { cwd }) {
    const { runCommand } = await import('./commands/run.js');
    const { once, agent, concurrency, quiet, json, poll } = args;
    // `--sync` alone comes as an empty string: the remote is git.remote's.
    const sync = args.sync === undefined ? undefined : args.sync || true;
    return runCommand(cwd, { once, agent, concurrency, quiet, json, poll, sync });
  },
});

type ItemActions = typeof import('./commands/item-actions.js');

/** approve, reject, retry, pr: open the repository for an action on `id`, act, print what was done. */
async function actOnItem(cwd: string, id: string, act: (actions: ItemActions, repo: Repo) => Promise<string>) {
  const actions = await import('./commands/item-actions.js');
  const { openForAction } = await import('../engine/actions.js');
  process.stdout.write(`${await act(actions, await openForAction(cwd, id))}\n`);
}

const approve = command({
  command: 'approve <id>',
  describe: 'approve an item waiting for a human: it moves on to its next phase',
  builder: idPositional,
  async run(args, { cwd }) {
    const id = String(args.id);
    await actOnItem(cwd, id, ({ approve }, repo) => approve(repo, id));
  },
});

const reject = command({
  command: 'reject <id>',
  describe:
    'reject an item waiting for a human: back to its on_reject phase (or the same one) with your reason, or --block',
  builder: (y) =>
    idPositional(y)
      .option('reason', {
        alias: 'r',
        type: 'string',
        demandOption: true,
        describe: 'what must change; the next agent reads it',
      })
      .option('block', { type: 'boolean', default: false, describe: 'move it to backlog/blocked/ instead' }),
  async run(args, { cwd }) {
    const id = String(args.id);
    await actOnItem(cwd, id, ({ reject }, repo) => reject(repo, id, args.reason, args.block));
  },
});

const retry = command({
  command: 'retry <id>',
  describe:
    'put a blocked item back in the phase it was blocked in (attempts reset), or retry a failed or parked item now',
  builder: idPositional,
  async run(args, { cwd }) {
    const id = String(args.id);
    await actOnItem(cwd, id, ({ retry }, repo) => retry(repo, id));
  },
});

const redo = command({
  command: 'redo <id>',
  describe:
    'send an item back to run again from a phase (e.g. after editing its PRD by hand), the edit given as feedback',
  builder: (y) =>
    idPositional(y)
      .option('from', { type: 'string', demandOption: true, describe: 'the phase to run again from, e.g. design' })
      .option('reason', { alias: 'r', type: 'string', describe: 'more for the next agent to read' })
      .example('$0 redo fix-login --from design', 'design, spec and what follows run again'),
  async run(args, { cwd }) {
    const id = String(args.id);
    const { UnknownPhase } = await import('./commands/item-actions.js');
    try {
      await actOnItem(cwd, id, ({ redo }, repo) => redo(repo, id, String(args.from), args.reason));
    } catch (err) {
      if (!(err instanceof UnknownPhase)) throw err;
      process.stderr.write(`tend: ${err.message}\n  fix: ${err.fix ?? ''}\n`);
      return EXIT_USAGE;
    }
  },
});

function logOptions(y: Argv) {
  return y
    .positional('id', { type: 'string', describe: 'only the transitions of this item' })
    .option('since', { type: 'string', describe: 'only commits from then on: anything git log --since takes' })
    .option('until', { type: 'string', describe: 'only commits up to then: anything git log --until takes' })
    .option('outcome', {
      type: 'string',
      array: true,
      choices: OUTCOMES,
      describe: 'only transitions with this outcome; repeat for more',
    })
    .options(json)
    .example('$0 log --since "12 hours ago"', 'what happened overnight, with the total cost')
    .example('$0 log fix-login-on-safari', "one item's transitions")
    .example('$0 log --outcome failed --outcome blocked', 'what went wrong')
    .example('$0 log --since 2026-12-01 --until 2026-12-02', 'the first of December (a bare date is midnight)')
    .example('$0 log --since yesterday --json', 'as JSON (the keys are in the README)');
}

const log = command({
  command: 'log [id]',
  describe:
    'the transitions from git history, newest first: time, item, phase, outcome, agent, duration, cost, attempt',
  builder: logOptions,
  async run(args, { cwd }) {
    const { log } = await import('./commands/log.js');
    await log(cwd, {
      id: args.id === undefined ? undefined : String(args.id),
      since: args.since,
      until: args.until,
      outcomes: args.outcome?.map(String),
      json: args.json,
    });
  },
});

function boardOptions(y: Argv) {
  return y
    .option('port', { type: 'number', default: 4377, describe: 'the port to listen on (0: any free port)' })
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'the address to listen on' })
    .option('open', { type: 'boolean', default: false, describe: 'open the page in the default browser' })
    .option('allow-remote', {
      type: 'boolean',
      default: false,
      describe: 'allow a --host that is not loopback (prints a warning: anyone who reaches it sees the backlog)',
    })
    .check((a) => {
      if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error('--port must be 0 to 65535');
      return true;
    })
    .example('$0 board --open', 'serve the board on 127.0.0.1:4377 and open it')
    .example('$0 board --port 0', 'any free port; the URL is printed');
}

const board = command({
  command: 'board',
  describe: 'serve the backlog as a live web page: columns, item pages, add/approve/reject/retry/edit',
  builder: boardOptions,
  async run(args, { cwd }) {
    const { boardCommand } = await import('./commands/board.js');
    await boardCommand(cwd, { port: args.port, host: args.host, open: args.open, allowRemote: args['allow-remote'] });
  },
});

const REPORT_FORMATS = ['md', 'json', 'html'] as const;

function reportOptions(y: Argv) {
  return y
    .option('since', {
      type: 'string',
      default: '12 hours ago',
      describe: 'from then on: anything git log --since takes',
    })
    .option('until', { type: 'string', describe: 'up to then: anything git log --until takes' })
    .option('format', { type: 'string', choices: REPORT_FORMATS, default: 'md', describe: 'md, json or html' })
    .option('out', { alias: 'o', type: 'string', describe: 'write the report to this file instead of stdout' })
    .options(json)
    .check((a) => {
      if (a.json && a.format !== 'md' && a.format !== 'json')
        throw new Error('--json cannot be combined with --format');
      return true;
    })
    .example('$0 report', 'the last 12 hours as Markdown (pipe it to less, or paste it in an issue)')
    .example('$0 report --since yesterday --format html --out night.html', 'one self-contained HTML file')
    .example('$0 report --since 2026-12-01 --until 2026-12-02 --json', 'the model as JSON (keys in the README)');
}

const report = command({
  command: 'report',
  describe:
    'the night from git history: what waits for you, what finished (what, review, size, links), failures, time, money',
  builder: reportOptions,
  async run(args, { cwd }) {
    const { report } = await import('./commands/report.js');
    const format = args.json ? 'json' : (args.format as (typeof REPORT_FORMATS)[number]);
    await report(cwd, { since: args.since, until: args.until, format, out: args.out });
  },
});

const pr = command({
  command: 'pr <id>',
  describe:
    "open a pull request for a done item's branch with gh (pushed to git.remote or origin first); records its URL",
  builder: (y) =>
    idPositional(y).example(
      '$0 pr fix-login',
      'push tend/fix-login, open its pull request, commit the URL on the item',
    ),
  async run(args, { cwd }) {
    const id = String(args.id);
    await actOnItem(cwd, id, ({ pr }, repo) => pr(repo, id));
  },
});

const sync = command({
  command: 'sync [remote]',
  describe: 'pull the backlog from the git remote (rebase; item files merge key by key) and push it',
  builder: (y) =>
    y
      .positional('remote', {
        type: 'string',
        describe: 'a git remote or URL (default: git.remote in ORCHESTRATOR.md)',
      })
      .options(json)
      .example('$0 sync', 'with git.remote')
      .example('$0 sync origin', 'with origin'),
  async run(args, { cwd }) {
    const { syncCommand } = await import('./commands/sync.js');
    return syncCommand(cwd, args.remote, args.json);
  },
});

const mergeDriver = command({
  command: 'merge-driver <base> <ours> <theirs> [name]',
  describe: false,
  builder: (y) =>
    y
      .positional('base', { type: 'string', describe: 'the common ancestor (%O)' })
      .positional('ours', { type: 'string', describe: 'our version, where the result goes (%A)' })
      .positional('theirs', { type: 'string', describe: 'their version (%B)' })
      .positional('name', { type: 'string', describe: 'the path being merged (%P)' }),
  async run(args) {
    const { runMergeDriver } = await import('../edges/merge-driver.js');
    const conflicts = await runMergeDriver(
      String(args.base),
      String(args.ours),
      String(args.theirs),
      args.name ?? 'item.md',
    );
    return conflicts === 0 ? EXIT_OK : EXIT_FAILURE;
  },
});

/** In the order `tend --help` lists them. */
export const COMMANDS = [
  init,
  add,
  status,
  show,
  log,
  report,
  doctor,
  run,
  approve,
  reject,
  retry,
  redo,
  pr,
  sync,
  board,
  mergeDriver,
];
