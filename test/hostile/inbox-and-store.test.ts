// Hostile inbox and backlog: files still being written, odd names, symlinked folders, usage
// limits and budget caps. Each case runs the real `tend` against a scratch repository.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, symlink } from 'node:fs/promises';
import { execa } from 'execa';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, item, itemField, runRepo, tendSubjects } from '../helpers/engine.js';
import { eventually, killAfterTest, startLiveRun } from '../helpers/processes.js';
import { cleanEnv, git, initializedRepo, scratchDir, tend, tendJson, TEND_BIN, writeTree } from '../helpers/repo.js';
import { trackTend } from '../helpers/tend-runs.js';

/** A shell writing `rel` in chunks with pauses, as a person typing into `cat > file` would. */
function slowWriter(root: string, rel: string, chunks: string[], pauseSeconds: number): Promise<number | null> {
  const script = `(${chunks.map((c) => `printf ${JSON.stringify(c)}`).join(`; sleep ${pauseSeconds}; `)}) > ${JSON.stringify(rel)}`;
  const child = spawn('sh', ['-c', script], { cwd: root, stdio: 'ignore' });
  killAfterTest(child);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

/** A shell holding `rel` open after writing `first`, until `finish` writes `rest` and closes it. */
function heldWriter(root: string, rel: string, first: string, rest: string) {
  const script = `(printf ${JSON.stringify(first)}; read go; printf ${JSON.stringify(rest)}) > ${JSON.stringify(rel)}`;
  const child = spawn('sh', ['-c', script], { cwd: root, stdio: ['pipe', 'ignore', 'ignore'] });
  killAfterTest(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { finish: () => (child.stdin.end('go\n'), exited) };
}

/** The item.md of `id` in whichever folder it is now. */
async function itemText(root: string, id: string): Promise<string | undefined> {
  const out = await git(root, 'ls-files', '--', `backlog/*/${id}/item.md`);
  const file = out.split('\n').find(Boolean);
  return file && existsSync(path.join(root, file)) ? readFile(path.join(root, file), 'utf8') : undefined;
}

describe('inbox files', () => {
  it('a file still being written in chunks: it is taken in only once complete, and no line is lost', async () => {
    const root = await runRepo('write-artifact.mjs');
    const run = startLiveRun(root);
    await eventually(
      () => run.output(),
      (o) => o.includes('watching backlog/'),
      'the watcher to be ready',
      30_000,
    );
    const written = slowWriter(root, 'backlog/typed.md', ['# T\n\nFirst.\n', 'Second.\n', 'Third.\n'], 2);
    expect(await written).toBe(0);
    const takenIn = (s: string[]) => s.includes('tend: typed inbox -> triage');
    const subjects = await eventually(() => tendSubjects(root), takenIn, 'the intake', 30_000);
    expect(subjects.filter((s) => s.startsWith('tend: typed inbox'))).toHaveLength(1);
    const text = await eventually(
      () => itemText(root, 'typed'),
      (t) => t !== undefined,
      'the item file',
      30_000,
    );
    expect(text).toContain('First.\nSecond.\nThird.\n');
    // What was committed at intake holds every line too.
    const intake = (await git(root, 'log', '--format=%H', '--grep=^Tend-Outcome: intake$')).trim();
    expect(await git(root, 'show', `${intake}:backlog/triage/typed/item.md`)).toContain('Third.');
    expect(existsSync(path.join(root, 'backlog/typed.md'))).toBe(false);
  });

  it('tend run --once while a file is still open for writing: it is left alone and named, and taken in whole by the next run', async () => {
    const root = await onePhaseRepo('write-artifact.mjs', {});
    const writer = heldWriter(root, 'backlog/typing.md', '# Typing\n\nFirst.\n', 'Second.\n');
    const size = () =>
      existsSync(path.join(root, 'backlog/typing.md')) ? statSync(path.join(root, 'backlog/typing.md')).size : 0;
    await eventually(size, (n) => n > 0, 'the first chunk', 30_000);
    const during = await tend(root, ['run', '--once']);
    expect(during.exitCode).toBe(0);
    expect(during.stdout).toContain('backlog/typing.md is still being written; taken in once it is closed');
    expect(await tendSubjects(root)).toEqual([]);
    expect(await writer.finish()).toBe(0);
    expect((await tend(root, ['run', '--once'])).exitCode).toBe(0);
    expect(await itemText(root, 'typing')).toContain('First.\nSecond.\n');
  });
});

interface StatusJson {
  items: { id: string; location: string }[];
  invalid: { path: string; problems: { message: string; fix: string | null }[] }[];
}

describe('odd names in the inbox', () => {
  it('backlog/..md, backlog/...md and backlog/.notes.md: each is listed as invalid with a fix, and run leaves them alone', async () => {
    const root = await runRepo('write-artifact.mjs', {
      'backlog/..md': item('Two dots'),
      'backlog/...md': item('Three dots'),
      'backlog/.notes.md': item('Hidden'),
      'backlog/fine.md': item('Fine', 'pipeline: quick-fix\n'),
    });
    const status = await tendJson<StatusJson>(root, ['status']);
    const invalid = new Map(status.invalid.map((i) => [i.path, i.problems[0]]));
    for (const name of ['backlog/..md', 'backlog/...md', 'backlog/.notes.md']) {
      expect(invalid.get(name)?.message, name).toMatch(/starts with a dot/);
      expect(invalid.get(name)?.fix, name).toMatch(/rename it/);
    }
    expect(invalid.get('backlog/.notes.md')?.fix).toContain('notes.md');
    const run = await tend(root, ['run', '--once']);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toContain('backlog/..md');
    expect(await tendSubjects(root)).toContain('tend: fine review -> done');
    for (const name of ['..md', '...md', '.notes.md']) expect(existsSync(path.join(root, 'backlog', name))).toBe(true);
  });
});

describe('symlinks in backlog/', () => {
  it('a phase folder that is a symlink out of the repository: nothing is moved or written through it, the run goes on for other items', async () => {
    const outside = await scratchDir();
    const root = await runRepo('write-artifact.mjs', {
      'backlog/inbound.md': item('Inbound', 'pipeline: quick-fix\n'),
      'backlog/build/other/item.md': item('Other', 'pipeline: quick-fix\nstatus: queued\n'),
    });
    await mkdir(path.join(outside, 'triage'));
    await symlink(path.join(outside, 'triage'), path.join(root, 'backlog/triage'));
    for (let run = 1; run <= 2; run++) {
      const result = await tend(root, ['run', '--once']);
      expect(result.stderr).toMatch(/backlog\/triage is a symlink/);
      expect(await readdir(path.join(outside, 'triage'))).toEqual([]);
      expect(existsSync(path.join(root, 'backlog/inbound.md'))).toBe(true);
    }
    expect(await tendSubjects(root)).toContain('tend: other review -> done');
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('?? backlog/triage\n'.trim());
  });

  it('done/ and an item folder that are symlinks: the finished item stays in the repository and the linked item is never written', async () => {
    const outside = await scratchDir();
    const root = await onePhaseRepo('write-artifact.mjs', { 'backlog/finishing.md': item('Finishing') });
    await mkdir(path.join(outside, 'done'));
    await mkdir(path.join(outside, 'linked'));
    const linkedText = item('Linked', 'status: queued\n');
    await writeTree(outside, { 'linked/item.md': linkedText });
    await symlink(path.join(outside, 'done'), path.join(root, 'backlog/done'));
    await mkdir(path.join(root, 'backlog/work'));
    await symlink(path.join(outside, 'linked'), path.join(root, 'backlog/work/linked'));
    const result = await tend(root, ['run', '--once']);
    expect(result.stderr).toMatch(
      /finishing: backlog\/done is a symlink; tend writes and moves nothing through a symlink/,
    );
    expect(result.stderr).toMatch(/backlog\/work\/linked: is a symlink in a phase folder/);
    expect(await readdir(path.join(outside, 'done'))).toEqual([]);
    expect(await readdir(path.join(outside, 'linked'))).toEqual(['item.md']);
    expect(await readFile(path.join(outside, 'linked/item.md'), 'utf8')).toBe(linkedText);
    expect(existsSync(path.join(root, 'backlog/work/finishing/item.md'))).toBe(true);
    expect(await git(root, 'ls-files', '--', 'backlog/work/finishing/item.md')).toBe('backlog/work/finishing/item.md');
  });
});

/** The command that runs fake agent `script`, as ORCHESTRATOR.md writes it. */
const fakeAgent = (script: string) =>
  `[${JSON.stringify(process.execPath)}, ${JSON.stringify(path.join(FIXTURES, script))}]`;

/**
 * A repository set up by `tend init` plus `files`, committed, whose settings run `agent` with one
 * quick retry and default to pipeline `limited`; `agents` are the entries under `agents:`.
 */
async function limitedRepo(agent: string, agents: string[], extraSettings: string, files: Record<string, string>) {
  const settings = `agent: ${agent}\ndefault_pipeline: limited\nretries: 1\nretry_backoff: 0s\ntimeout: 20s\n`;
  const entries = agents.map((a) => `  ${a}\n`).join('');
  const root = await initializedRepo({
    'ORCHESTRATOR.md': `---\n${settings}${extraSettings}agents:\n${entries}---\nTest project.\n`,
    'prompts/work.md': 'Do {{title}}.\n',
    ...files,
  });
  await git(root, 'add', '--all');
  await git(root, 'commit', '--quiet', '-m', 'test setup');
  return root;
}

/** ORCHESTRATOR.md whose agent `fine` is fake agent `script`, default pipeline `limited`. */
async function onePhaseRepo(script: string, items: Record<string, string>, extraSettings = ''): Promise<string> {
  return limitedRepo('fine', [`fine: { type: command, command: ${fakeAgent(script)} }`], extraSettings, {
    'pipelines/limited.md': '---\nphases:\n  - { name: work, artifact: work.md }\n---\nOne phase.\n',
    ...items,
  });
}

/**
 * Two one-phase pipelines: `limited` runs agent `spent`, a stand-in for Claude Code whose usage
 * limit is spent ("resets 5pm"; each call logged in $FAKE_CLAUDE_ARGS); `free` runs agent `fine`.
 */
async function twoProviderRepo(items: Record<string, string>, extraSettings = ''): Promise<string> {
  const claude = JSON.stringify(path.join(FIXTURES, 'bin', 'claude'));
  const agents = [
    `spent: { type: claude, command: ${claude}, env: { FAKE_CLAUDE: limit } }`,
    `fine: { type: command, command: ${fakeAgent('write-artifact.mjs')} }`,
  ];
  return limitedRepo('spent', agents, extraSettings, {
    'pipelines/limited.md': '---\nphases:\n  - { name: work, artifact: work.md }\n---\nOne phase on the spent agent.\n',
    'pipelines/free.md':
      '---\nphases:\n  - { name: chore, artifact: chore.md, agent: fine }\n---\nOne phase on another agent.\n',
    'prompts/chore.md': 'Do {{title}}.\n',
    ...items,
  });
}

describe('usage limits and budget caps', () => {
  it('three items on an agent whose usage limit is spent: one call, all three parked until the reset, other agents go on, also after a restart', async () => {
    const calls = path.join(await scratchDir(), 'calls');
    const root = await twoProviderRepo({
      'backlog/one.md': item('One', 'priority: 1\n'),
      'backlog/two.md': item('Two', 'priority: 2\n'),
      'backlog/three.md': item('Three', 'priority: 3\n'),
      'backlog/other.md': item('Other', 'pipeline: free\npriority: 4\n'),
    });
    for (let run = 1; run <= 2; run++) {
      const result = await tend(root, ['run', '--once'], { env: { FAKE_CLAUDE_ARGS: calls } });
      expect(result.exitCode).toBe(0);
      const parked = /parked until a usage limit resets: (.*)/.exec(result.stdout)?.[1] ?? '';
      for (const id of ['one', 'two', 'three']) expect(parked, `run ${run}`).toContain(id);
      expect((await readFile(calls, 'utf8')).trim().split('\n'), `run ${run}`).toHaveLength(1);
    }
    expect(await tendSubjects(root)).toContain('tend: other chore -> done');
    expect(await itemField(root, 'backlog/work/one/item.md', 'limited_by')).toBe('spent');
    expect(await itemField(root, 'backlog/work/two/item.md', 'status')).toBe('queued');
    expect(await itemField(root, 'backlog/work/two/item.md', 'attempts')).toBe('0');
  });

  it('budget.per_run_usd reached: the run says which cap stopped it, a restart after kill -9 keeps the spending, a new run gets a new budget', async () => {
    const root = await onePhaseRepo(
      'costly-artifact.mjs',
      {
        'backlog/one.md': item('One', 'priority: 1\n'),
        'backlog/two.md': item('Two', 'priority: 2\n'),
        'backlog/three.md': item('Three', 'priority: 3\n'),
      },
      'concurrency: 1\nbudget: { per_run_usd: 1.5 }\n',
    );
    const doneIds = async () => (await tendSubjects(root)).filter((s) => s.endsWith('work -> done'));
    const live = startLiveRun(root);
    const warned = (o: string) => o.includes('budget.per_run_usd reached');
    await eventually(() => live.output(), warned, 'the budget warning', 30_000);
    expect(live.output()).toMatch(/budget\.per_run_usd reached: this run has spent \$2\.00 of \$1\.50/);
    const twoDone = await eventually(doneIds, (d) => d.length === 2, 'two items done', 30_000);
    expect(twoDone).toEqual(['tend: one work -> done', 'tend: two work -> done']);
    live.child.kill('SIGKILL');
    await live.exited;
    // Started again after the crash: the same run, the same spending, nothing new starts.
    const again = await tend(root, ['run', '--once']);
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toMatch(
      /budget\.per_run_usd reached: this run has spent \$2\.00 \(\$2\.00 of it before a restart\)/,
    );
    expect(again.stdout).toMatch(/^stopped: budget\.per_run_usd reached/m);
    expect(await doneIds()).toHaveLength(2);
    // That run ended by itself: the next one is a new run with a new budget.
    const fresh = await tend(root, ['run', '--once']);
    expect(fresh.exitCode).toBe(0);
    expect(await doneIds()).toContain('tend: three work -> done');
  });
});

/** Root reads any file, so an unreadable one is tried as `nobody`; setpriv drops to it. */
const CAN_DROP_ROOT = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');

describe.runIf(CAN_DROP_ROOT)('files tend may not read (tend run as nobody, since root reads anything)', () => {
  /** `tend <args>` as uid 65534, trusting the repository git would otherwise call dubious. */
  async function tendAsNobody(root: string, args: string[]) {
    const env = cleanEnv({
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'safe.directory',
      GIT_CONFIG_VALUE_0: '*',
      HOME: root,
    });
    const drop = ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, TEND_BIN, ...args];
    const ran = execa('setpriv', drop, { cwd: root, env, extendEnv: false, reject: false, timeout: 30_000 });
    const result = await trackTend(ran);
    return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
  }

  it('an unreadable inbox file and item folder are listed with a chmod fix; status and run go on with the rest', async () => {
    const root = await runRepo('write-artifact.mjs', {
      'backlog/readable.md': item('Readable'),
      'backlog/secret.md': item('Secret'),
      'backlog/triage/locked/item.md': item('Locked'),
    });
    await execa('chown', ['-R', '65534:65534', root]);
    await chmod(path.join(root, 'backlog/secret.md'), 0o000);
    await chmod(path.join(root, 'backlog/triage/locked'), 0o000);

    const status = await tendAsNobody(root, ['status', '--json']);
    expect(status.exitCode, status.stderr).toBe(0);
    const board = JSON.parse(status.stdout) as {
      invalid: { path: string; problems: { message: string; fix: string }[] }[];
    };
    const problems = Object.fromEntries(board.invalid.map((e) => [e.path, e.problems[0]]));
    expect(problems['backlog/secret.md']).toMatchObject({
      file: 'backlog/secret.md',
      message: 'cannot be read (permission denied)',
      fix: 'make it readable: chmod u+r backlog/secret.md',
    });
    expect(problems['backlog/triage/locked']?.fix).toBe('make it readable: chmod u+rx backlog/triage/locked');

    const run = await tendAsNobody(root, ['run', '--once', '--agent', 'dry-run']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(existsSync(path.join(root, 'backlog/done/readable/item.md'))).toBe(true);
    await chmod(path.join(root, 'backlog/secret.md'), 0o644);
    expect(await readFile(path.join(root, 'backlog/secret.md'), 'utf8')).toBe(item('Secret'));
  });
});
