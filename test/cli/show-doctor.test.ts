// `tend show` (one item, its artifacts, its history from git log) and `tend doctor` (every
// problem that would stop a run, each with its fix).
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { git, read, scratchDir, tend, writeTree } from '../helpers/repo.js';
import { copyRepo, outsideGitEnv, pathWithOnlyGit, sharedRepo } from './support.js';

interface ShowJson {
  version: number;
  item: {
    id: string;
    title: string;
    location: string;
    file: string;
    artifacts: string[];
    frontmatter: Record<string, unknown>;
    body: string;
  } | null;
  invalid: { path: string; problems: { file: string; message: string }[] } | null;
  history: { commit: string; date: string; author: string; subject: string; trailers: Record<string, string> }[];
}

interface DoctorJson {
  version: number;
  ok: boolean;
  checks: { name: string; ok: boolean; severity: 'error' | 'warning'; details: string[]; fix?: string }[];
}

describe('tend show', () => {
  const repo = sharedRepo(async (root) => {
    const add = await tend(root, [
      'add',
      'Write the PRD',
      '-p',
      '2',
      '-l',
      'docs',
      '--body',
      'Why we need it.\n\nMore detail.',
    ]);
    if (add.exitCode !== 0) throw new Error(add.stderr);
    // What a transition does: move the item into its phase folder, beside its artifact, and commit.
    await mkdir(path.join(root, 'backlog/prd/write-the-prd'), { recursive: true });
    await git(root, 'mv', 'backlog/write-the-prd.md', 'backlog/prd/write-the-prd/item.md');
    await writeTree(root, {
      'backlog/prd/write-the-prd/PRD.md': '# PRD\n\nThe requirements.\n',
      'backlog/prd/write-the-prd/research.md': '# Research\n',
    });
    await git(root, 'add', 'backlog');
    await git(
      root,
      'commit',
      '--quiet',
      '-m',
      'tend: write-the-prd research -> prd',
      '-m',
      'Tend-Item: write-the-prd\nTend-Phase: research\nTend-Outcome: done\nTend-Agent: dry-run\nTend-Duration: 3s\nTend-Cost-USD: 0.25',
    );
    // An unrelated commit that only mentions the id in passing is not its history.
    await writeTree(root, { 'notes.txt': 'about write-the-prd\n' });
    await git(root, 'add', 'notes.txt');
    await git(root, 'commit', '--quiet', '-m', 'notes on write-the-prd', '-m', 'Tend-Item: write-the-prd-2');
    await writeTree(root, { 'backlog/hand-written.md': '# Just written\n' });
  });

  it('prints the title, frontmatter, body, artifacts and history from git log', async () => {
    const result = await tend(repo(), ['show', 'write-the-prd']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    const out = result.stdout;
    expect(out.split('\n')[0]).toBe('Write the PRD  (write-the-prd)');
    expect(out).toMatch(/^file: backlog\/prd\/write-the-prd\/item\.md$/m);
    expect(out).toMatch(/^title: "Write the PRD"$/m);
    expect(out).toMatch(/^priority: 2$/m);
    expect(out).toMatch(/^labels: \["docs"\]$/m);
    expect(out).toMatch(/^created: "\d{4}-/m);
    expect(out).toContain('Why we need it.\n\nMore detail.');
    expect(out).toMatch(
      /^artifacts\n {2}backlog\/prd\/write-the-prd\/PRD\.md\n {2}backlog\/prd\/write-the-prd\/research\.md$/m,
    );
    const history = out.slice(out.indexOf('\nhistory\n'));
    const added = history.indexOf('tend: write-the-prd added');
    const moved = history.indexOf('tend: write-the-prd research -> prd');
    expect(added).toBeGreaterThan(0);
    expect(moved).toBeGreaterThan(added);
    expect(history).toMatch(/research -> prd\s+\(dry-run, 3s, \$0\.25\)/);
    expect(history).not.toContain('notes on write-the-prd');
  });

  it('--json has the item and its history', async () => {
    const result = await tend(repo(), ['show', 'write-the-prd', '--json']);
    expect(result.exitCode).toBe(0);
    const json = JSON.parse(result.stdout) as ShowJson;
    expect(json.version).toBe(1);
    expect(json.item).toMatchObject({
      id: 'write-the-prd',
      title: 'Write the PRD',
      location: 'prd',
      file: 'backlog/prd/write-the-prd/item.md',
      artifacts: ['PRD.md', 'research.md'],
      frontmatter: { title: 'Write the PRD', priority: 2, labels: ['docs'], depends_on: [] },
      body: 'Why we need it.\n\nMore detail.\n',
    });
    expect(json.invalid).toBeNull();
    expect(json.history.map((h) => h.subject)).toEqual([
      'tend: write-the-prd added',
      'tend: write-the-prd research -> prd',
    ]);
    expect(json.history[0]?.trailers).toMatchObject({ 'Tend-Item': 'write-the-prd', 'Tend-Outcome': 'added' });
    expect(json.history[1]).toMatchObject({
      author: 'Test User',
      trailers: { 'Tend-Phase': 'research', 'Tend-Cost-USD': '0.25' },
    });
    expect(json.history[1]?.commit).toBe(
      (await git(repo(), 'log', '-1', '--format=%H', '--grep=research -> prd')).trim(),
    );
  });

  it('shows a hand-written item that has no commits yet', async () => {
    const result = await tend(repo(), ['show', 'hand-written']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^Just written {2}\(hand-written\)/);
    expect(result.stdout).toMatch(/\(none yet\)/);
    expect(result.stdout).toMatch(/history\n\s+\(no commits yet\)/);
  });

  it('exits 1 with a hint for an unknown id', async () => {
    const unknown = await tend(repo(), ['show', 'no-such-item']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/no item with id no-such-item/);
    expect(unknown.stderr).toMatch(/fix: .*tend status/);

    const close = await tend(repo(), ['show', 'write-the']);
    expect(close.exitCode).toBe(1);
    expect(close.stderr).toMatch(/did you mean write-the-prd\?/);

    const json = await tend(repo(), ['show', 'no-such-item', '--json']);
    expect(json.exitCode).toBe(1);
    expect(json.stdout).toBe('');
  });
});

describe('tend doctor', () => {
  const repo = sharedRepo();

  it('fails when the default agent, claude, is not on PATH, and says how to fix it', async () => {
    const result = await tend(repo(), ['doctor'], { env: { PATH: await pathWithOnlyGit() } });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^FAIL agent claude$/m);
    expect(result.stdout).toMatch(/`claude` is not on PATH/);
    expect(result.stdout).toMatch(/fix: install claude/);
    expect(result.stdout).toMatch(/^ok {3}configuration$/m);
    expect(result.stdout).toMatch(/^ok {3}\.tend\/ ignored by git/m);
    expect(result.stdout).toMatch(/^ok {3}git identity — Test User <test@example\.com>$/m);
  });

  it('--json parses and names the failing check', async () => {
    const result = await tend(repo(), ['doctor', '--json'], { env: { PATH: await pathWithOnlyGit() } });
    expect(result.exitCode).toBe(1);
    const json = JSON.parse(result.stdout) as DoctorJson;
    expect(json.version).toBe(1);
    expect(json.ok).toBe(false);
    expect(json.checks.find((c) => c.name === 'agent claude')).toMatchObject({
      ok: false,
      severity: 'error',
      fix: expect.stringMatching(/claude/),
    });
    expect(json.checks.find((c) => c.name === 'configuration')).toMatchObject({ ok: true });
  });

  it('passes with agent: dry-run in ORCHESTRATOR.md', async () => {
    const root = await copyRepo(repo());
    const settings = await read(root, 'ORCHESTRATOR.md');
    expect(settings).toMatch(/^agent: claude$/m);
    await writeTree(root, { 'ORCHESTRATOR.md': settings.replace(/^agent: claude$/m, 'agent: dry-run') });
    const result = await tend(root, ['doctor'], { env: { PATH: await pathWithOnlyGit() } });
    expect(result.stdout).not.toMatch(/FAIL/);
    expect(result.exitCode).toBe(0);
    const json = JSON.parse(
      (await tend(root, ['doctor', '--json'], { env: { PATH: await pathWithOnlyGit() } })).stdout,
    ) as DoctorJson;
    expect(json.ok).toBe(true);
  });

  it('reports a missing prompt and an unknown template variable, each with its file', async () => {
    const root = await copyRepo(repo());
    const settings = await read(root, 'ORCHESTRATOR.md');
    const quick = await read(root, 'pipelines/quick-fix.md');
    const missingPrompt = quick.replace(
      '{ name: triage, artifact: triage.md }',
      '{ name: triage, artifact: triage.md, prompt: does-not-exist.md }',
    );
    expect(missingPrompt).not.toBe(quick);
    await writeTree(root, {
      'ORCHESTRATOR.md': settings.replace(/^agent: claude$/m, 'agent: dry-run'),
      'pipelines/quick-fix.md': missingPrompt,
      'prompts/build.md': `${await read(root, 'prompts/build.md')}\nAlso mention {{nope}}.\n`,
    });
    const result = await tend(root, ['doctor']);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^FAIL configuration$/m);
    expect(result.stdout).toMatch(
      /pipelines\/quick-fix\.md:\d+: phases\[\d\]\.prompt: .*prompts\/does-not-exist\.md does not exist/,
    );
    expect(result.stdout).toMatch(/prompts\/build\.md:\d+: unknown template variable \{\{nope\}\}/);

    const json = JSON.parse((await tend(root, ['doctor', '--json'])).stdout) as DoctorJson;
    const config = json.checks.find((c) => c.name === 'configuration');
    expect(config?.ok).toBe(false);
    expect(config?.details).toHaveLength(2);

    // status still works and shows the same configuration errors.
    const status = await tend(root, ['status']);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(/config error: prompts\/build\.md/);
  });

  it('fails when .tend/ is not ignored', async () => {
    const root = await copyRepo(repo());
    await rm(path.join(root, '.gitignore'));
    const result = await tend(root, ['doctor']);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^FAIL \.tend\/ ignored by git$/m);
    expect(result.stdout).toMatch(/fix: add the line `\.tend\/` to \.gitignore/);
  });

  it('fails outside a git repository, in text and JSON', async () => {
    const dir = await scratchDir();
    const result = await tend(dir, ['doctor'], { env: outsideGitEnv(dir) });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^FAIL git repository$/m);
    expect(result.stdout).toMatch(/not inside a git repository/);
    expect(result.stdout).toMatch(/fix: run `tend init`/);

    const json = await tend(dir, ['doctor', '--json'], { env: outsideGitEnv(dir) });
    expect(json.exitCode).toBe(1);
    const parsed = JSON.parse(json.stdout) as DoctorJson;
    expect(parsed.ok).toBe(false);
    expect(parsed.checks[0]).toMatchObject({ name: 'git repository', ok: false });
  });
});
