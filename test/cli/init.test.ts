// `tend init` in a scratch repository: what it writes, what it commits, what it leaves alone.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { commitCount, git, read, scratchDir, scratchRepo, tend, writeTree } from '../helpers/repo.js';
import { headFiles, headSubject, outsideGitEnv, stagedFiles } from './support.js';

interface PhaseYaml {
  name: string;
  artifact?: string;
  prompt?: string;
  gate?: unknown;
  fanout?: string[];
}

async function phases(root: string, pipeline: string): Promise<PhaseYaml[]> {
  const text = await read(root, `pipelines/${pipeline}.md`);
  const yaml = /^---\n([\s\S]*?)\n---\n/.exec(text)?.[1];
  expect(yaml, `pipelines/${pipeline}.md has frontmatter`).toBeDefined();
  return (parse(yaml ?? '') as { phases: PhaseYaml[] }).phases;
}

describe('tend init', () => {
  it('installs settings, pipelines, a prompt per phase and backlog/, ignores .tend/, in one commit', async () => {
    const root = await scratchRepo();
    const result = await tend(root, ['init']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/created ORCHESTRATOR\.md/);
    expect(result.stdout).toMatch(/committed [0-9a-f]{8}/);

    for (const file of ['ORCHESTRATOR.md', 'pipelines/coding.md', 'pipelines/quick-fix.md']) {
      expect(existsSync(path.join(root, file)), file).toBe(true);
    }
    expect(existsSync(path.join(root, 'backlog'))).toBe(true);
    expect((await read(root, '.gitignore')).split('\n')).toContain('.tend/');

    const coding = await phases(root, 'coding');
    expect(coding.map((p) => p.name)).toEqual([
      'triage',
      'research',
      'prd',
      'tech-research',
      'design',
      'spec',
      'build',
      'review',
    ]);
    expect(coding.find((p) => p.name === 'review')?.fanout).toHaveLength(9);
    const quick = await phases(root, 'quick-fix');
    expect(quick.map((p) => p.name)).toEqual(['triage', 'build', 'review']);
    for (const phase of [...coding, ...quick]) {
      // The defaults work in any repository: no gate assumes a toolchain.
      expect(phase.gate, `${phase.name} has no default gate`).toBeUndefined();
      const prompt = phase.prompt ?? `prompts/${phase.name}.md`;
      expect((await read(root, prompt)).trim().length, `${prompt} is a real prompt`).toBeGreaterThan(200);
    }

    expect(await commitCount(root)).toBe(1);
    expect(await headSubject(root)).toBe('tend: init');
    const committed = await headFiles(root);
    expect(committed).toEqual(
      expect.arrayContaining([
        'ORCHESTRATOR.md',
        'pipelines/coding.md',
        'pipelines/quick-fix.md',
        'prompts/triage.md',
        '.gitignore',
      ]),
    );
    expect(committed.some((f) => f.startsWith('backlog/'))).toBe(true);
    expect(committed.some((f) => f.startsWith('.tend/'))).toBe(false);
    expect(await git(root, 'status', '--porcelain')).toBe('');

    // The fresh repository is a working one: status shows an empty board.
    const status = await tend(root, ['status']);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(/backlog is empty/);
  });

  it('runs git init in a folder that is not a repository', async () => {
    const dir = await scratchDir();
    const result = await tend(dir, ['init'], { env: outsideGitEnv(dir) });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/initialized a git repository/);
    expect(existsSync(path.join(dir, '.git'))).toBe(true);
    expect(existsSync(path.join(dir, 'ORCHESTRATOR.md'))).toBe(true);
    expect(await commitCount(dir)).toBe(1);
    expect(await git(dir, 'status', '--porcelain')).toBe('');
  });

  it('changes nothing when run a second time and says which files it kept', async () => {
    const root = await scratchRepo();
    expect((await tend(root, ['init'])).exitCode).toBe(0);
    const head = await git(root, 'rev-parse', 'HEAD');
    const gitignore = await read(root, '.gitignore');

    const again = await tend(root, ['init']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/kept\s+ORCHESTRATOR\.md/);
    expect(again.stdout).toMatch(/kept\s+pipelines\/coding\.md/);
    expect(again.stdout).toMatch(/nothing to do/);
    expect(again.stdout).not.toMatch(/created/);
    expect(await git(root, 'rev-parse', 'HEAD')).toBe(head);
    expect(await read(root, '.gitignore')).toBe(gitignore);
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });

  it('never overwrites an existing ORCHESTRATOR.md, committed or not', async () => {
    const custom = '---\nagent: dry-run\n---\nMy project: a bakery. Never touch recipes/.\n';
    const committed = await scratchRepo({ 'ORCHESTRATOR.md': custom, '.gitignore': 'node_modules' });
    const result = await tend(committed, ['init']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/kept\s+ORCHESTRATOR\.md \(already exists\)/);
    expect(await read(committed, 'ORCHESTRATOR.md')).toBe(custom);
    expect(await headFiles(committed)).not.toContain('ORCHESTRATOR.md');
    // An existing .gitignore is appended to, on a line of its own.
    expect(await read(committed, '.gitignore')).toMatch(/^node_modules\n(#.*\n)?\.tend\/\n$/);

    const untracked = await scratchRepo({ 'README.md': '# r\n' });
    await writeTree(untracked, { 'ORCHESTRATOR.md': custom });
    expect((await tend(untracked, ['init'])).exitCode).toBe(0);
    expect(await read(untracked, 'ORCHESTRATOR.md')).toBe(custom);
    expect(await headFiles(untracked)).not.toContain('ORCHESTRATOR.md');
    expect(await git(untracked, 'status', '--porcelain')).toBe('?? ORCHESTRATOR.md');
  });

  it("leaves a user's staged file staged and out of its commit", async () => {
    for (const root of [await scratchRepo({ 'README.md': '# app\n' }), await scratchRepo()]) {
      await writeTree(root, { 'notes.txt': 'my staged work\n' });
      await git(root, 'add', 'notes.txt');
      const before = Number(await git(root, 'rev-list', '--all', '--count'));

      const result = await tend(root, ['init']);
      expect(result.exitCode).toBe(0);
      expect(await stagedFiles(root)).toEqual(['notes.txt']);
      expect(await headFiles(root)).not.toContain('notes.txt');
      expect(await headFiles(root)).toContain('ORCHESTRATOR.md');
      expect(Number(await git(root, 'rev-list', '--all', '--count'))).toBe(before + 1);
      expect(await read(root, 'notes.txt')).toBe('my staged work\n');
    }
  });
});
