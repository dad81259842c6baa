// What goes into a run: bad files beside good ones, CRLF and BOM items, the prompt the agent
// receives, a broken prompt template, and Ctrl-C.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { item, itemField, runRepo, tendSubjects } from '../helpers/engine.js';
import { cleanEnv, git, read, scratchDir, tend, TEND_BIN, writeTree } from '../helpers/repo.js';
import { trackTend } from '../helpers/tend-runs.js';

describe('a run beside bad input', () => {
  it('finishes the good items, leaves bad files byte for byte, and keeps CRLF and BOM', async () => {
    const binary = Buffer.from([0x00, 0x01, 0x02, 0xff]);
    const root = await runRepo('write-artifact.mjs', {
      'backlog/good.md': item('Good', 'pipeline: quick-fix\n'),
      'backlog/windows.md': '---\r\ntitle: Windows\r\npipeline: quick-fix\r\n---\r\nWritten on Windows.\r\n',
      'backlog/bom.md': '\uFEFF# With a BOM\n\nText.\n',
      'backlog/broken.md': '---\ntitle: [unclosed\n---\nx\n',
      'backlog/typo.md': '---\npriority: high\n---\nx\n',
      'backlog/blob.md': binary,
    });
    await writeTree(root, { 'backlog/untracked-bad.md': '---\nstatus: bogus\n---\n' });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/invalid backlog entries, left untouched until fixed/);
    expect(result.stderr).toMatch(/backlog\/typo\.md:2: priority: expected an integer from 1 \(most urgent\) to 5/);
    const subjects = await tendSubjects(root);
    for (const id of ['good', 'windows', 'bom']) expect(subjects).toContain(`tend: ${id} review -> done`);
    expect(await read(root, 'backlog/broken.md')).toBe('---\ntitle: [unclosed\n---\nx\n');
    expect(await read(root, 'backlog/typo.md')).toBe('---\npriority: high\n---\nx\n');
    expect(readFileSync(path.join(root, 'backlog/blob.md')).equals(binary)).toBe(true);
    expect(await read(root, 'backlog/untracked-bad.md')).toBe('---\nstatus: bogus\n---\n');
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('?? backlog/untracked-bad.md');
    // CRLF stays CRLF, and a BOM stays, when tend rewrites the frontmatter.
    const windows = await read(root, 'backlog/done/windows/item.md');
    expect(windows).toMatch(/^---\r\ntitle: Windows\r\npipeline: quick-fix\r\npriority: 3\r\nstatus: queued\r\n/);
    expect(windows.replace(/\r\n/g, '')).not.toContain('\n');
    const bom = await read(root, 'backlog/done/bom/item.md');
    expect(bom.startsWith('\uFEFF---\ntitle: With a BOM\n')).toBe(true);
    expect(bom.endsWith('---\n# With a BOM\n\nText.\n')).toBe(true);
  });
});

describe('changes by hand found by a run', () => {
  it('commits an edit to a finished item and the removal of a committed inbox file, each on its own', async () => {
    const root = await runRepo('write-artifact.mjs', {
      'backlog/done/old/item.md': item('Old', 'pipeline: quick-fix\n'),
      'backlog/gone.md': item('Gone', 'pipeline: quick-fix\n'),
    });
    const file = 'backlog/done/old/item.md';
    await writeTree(root, { [file]: (await read(root, file)).replace('Old: some text.', 'Old: a note added later.') });
    await rm(path.join(root, 'backlog/gone.md'));
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    const subjects = await tendSubjects(root);
    expect(subjects).toContain('tend: old edited by hand');
    expect(subjects).toContain('tend: gone inbox file backlog/gone.md removed');
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
    expect(await read(root, file)).toContain('Old: a note added later.');
  });
});

describe('the prompt', () => {
  it('holds the project context, the phase instructions, the item, earlier artifacts and where to write', async () => {
    const root = await runRepo('write-artifact.mjs', { 'backlog/shown.md': item('Shown', 'pipeline: quick-fix\n') });
    expect((await tend(root, ['run', '--once'])).exitCode).toBe(0);
    const prompt = await readFile(path.join(root, '.tend/logs/shown/build.1.prompt.md'), 'utf8');
    expect(prompt).toContain('# Project context\n\nTest project.');
    expect(prompt).toContain('Implement item `shown` ("Shown")');
    expect(prompt).toContain('Shown: some text.');
    expect(prompt).toContain(`- ${path.join(root, 'backlog/build/shown/triage.md')}`);
    expect(prompt).toMatch(
      new RegExp(
        `Write your result to ${path.join(root, '.tend/worktrees/shown/.tend/artifacts/shown/build.md').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\.`,
      ),
    );
    expect(prompt).not.toMatch(/\{\{\w+\}\}/);
  });

  it('a prompt with an unknown variable stops the run before any agent starts', async () => {
    const root = await runRepo('write-artifact.mjs', { 'backlog/x.md': item('X', 'pipeline: quick-fix\n') });
    await writeTree(root, { 'prompts/triage.md': '# Triage\n\nLook at {{tittle}}.\n' });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/prompts\/triage\.md:3: unknown template variable \{\{tittle\}\}/);
    expect(existsSync(path.join(root, '.tend/logs/x'))).toBe(false);
    expect(await tendSubjects(root)).toEqual([]);
  });
});

describe('Ctrl-C', () => {
  it('SIGINT stops the agent, requeues the item without using up the attempt, and exits 130', async () => {
    const pidFile = path.join(await scratchDir(), 'pid');
    const root = await runRepo('hang.mjs', { 'backlog/slow.md': item('Slow', 'pipeline: quick-fix\n') });
    const child = spawn(process.execPath, [TEND_BIN, 'run', '--once'], {
      cwd: root,
      env: cleanEnv({ FAKE_PID_FILE: pidFile }),
      stdio: 'ignore',
    });
    trackTend(child);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 400 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(await itemField(root, 'backlog/triage/slow/item.md', 'status')).toBe('queued');
    expect(await itemField(root, 'backlog/triage/slow/item.md', 'attempts')).toBe('0');
    expect((await tendSubjects(root)).at(-1)).toBe('tend: slow triage interrupted, requeued');
  });
});
