// `tend add`: the inbox file it writes, the commit it makes, and the input it refuses.
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { commitCount, git, read, scratchDir, tend, writeTree } from '../helpers/repo.js';
import { copyRepo, headFiles, headSubject, sharedRepo, stagedFiles } from './support.js';

function frontmatter(text: string): Record<string, unknown> {
  const yaml = /^---\n([\s\S]*?)\n---\n/.exec(text)?.[1];
  if (yaml === undefined) throw new Error(`no frontmatter in:\n${text}`);
  return parse(yaml) as Record<string, unknown>;
}

/** The text after the frontmatter block. */
function body(text: string): string {
  return text.replace(/^---\n[\s\S]*?\n---\n/, '');
}

async function backlogFiles(root: string): Promise<string[]> {
  return (await readdir(path.join(root, 'backlog'))).filter((f) => f.endsWith('.md')).sort();
}

describe('tend add', () => {
  const template = sharedRepo(async (root) => {
    const first = await tend(root, ['add', 'Set up CI']);
    if (first.exitCode !== 0) throw new Error(first.stderr);
  });

  it('writes backlog/<slug>.md with its frontmatter and commits it with a Tend-Item trailer', async () => {
    const root = await copyRepo(template());
    const before = await commitCount(root);
    const started = Date.now();
    const result = await tend(root, [
      'add',
      'Fix login on Safari!',
      '--priority',
      '2',
      '--label',
      'bug',
      '-l',
      'ui',
      '--depends-on',
      'set-up-ci',
    ]);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('added fix-login-on-safari (backlog/fix-login-on-safari.md)');

    const text = await read(root, 'backlog/fix-login-on-safari.md');
    const fm = frontmatter(text);
    expect(Object.keys(fm)).toEqual(['title', 'priority', 'labels', 'depends_on', 'created']);
    expect(fm).toMatchObject({
      title: 'Fix login on Safari!',
      priority: 2,
      labels: ['bug', 'ui'],
      depends_on: ['set-up-ci'],
    });
    expect(fm.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Math.abs(Date.parse(String(fm.created)) - started)).toBeLessThan(60_000);

    expect(await commitCount(root)).toBe(before + 1);
    expect(await headSubject(root)).toBe('tend: fix-login-on-safari added');
    expect((await git(root, 'log', '-1', '--format=%(trailers:key=Tend-Item,valueonly)')).trim()).toBe(
      'fix-login-on-safari',
    );
    expect(await git(root, 'log', '--grep=^Tend-Item: fix-login-on-safari$', '--format=%s')).toBe(
      'tend: fix-login-on-safari added',
    );
    expect(await headFiles(root)).toEqual(['backlog/fix-login-on-safari.md']);
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });

  it('gives a second item with the same title a unique id', async () => {
    const root = await copyRepo(template());
    const first = await read(root, 'backlog/set-up-ci.md');
    const again = await tend(root, ['add', 'Set up CI']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/added set-up-ci-2 \(backlog\/set-up-ci-2\.md\)/);
    expect(await read(root, 'backlog/set-up-ci.md')).toBe(first);
    expect(frontmatter(await read(root, 'backlog/set-up-ci-2.md')).title).toBe('Set up CI');
    expect((await tend(root, ['add', 'set up ci'])).stdout).toMatch(/added set-up-ci-3 /);
    expect(await headSubject(root)).toBe('tend: set-up-ci-3 added');
  });

  it('takes the body from --body and --body-file', async () => {
    const root = await copyRepo(template());
    const inline = await tend(root, ['add', 'Inline body', '--body', 'Steps:\n1. open the page']);
    expect(inline.exitCode).toBe(0);
    expect(body(await read(root, 'backlog/inline-body.md'))).toBe('Steps:\n1. open the page\n');

    const elsewhere = await scratchDir();
    const bodyFile = path.join(elsewhere, 'body.md');
    await writeFile(bodyFile, '## Context\n\nFrom a file, with *markdown*.\n\n\n');
    const fromFile = await tend(root, ['add', 'File body', '--body-file', bodyFile]);
    expect(fromFile.exitCode).toBe(0);
    expect(body(await read(root, 'backlog/file-body.md'))).toBe('## Context\n\nFrom a file, with *markdown*.\n');
    expect(frontmatter(await read(root, 'backlog/file-body.md')).title).toBe('File body');

    const none = await tend(root, ['add', 'No body']);
    expect(none.exitCode).toBe(0);
    expect(body(await read(root, 'backlog/no-body.md'))).toBe('');

    // Each add is its own commit, and each item reads back in status.
    expect(await git(root, 'log', '--format=%s', '-3')).toBe(
      ['tend: no-body added', 'tend: file-body added', 'tend: inline-body added'].join('\n'),
    );
    const status = await tend(root, ['status']);
    for (const id of ['inline-body', 'file-body', 'no-body']) expect(status.stdout).toContain(id);
  });

  it('takes the body from standard input with -', async () => {
    const root = await copyRepo(template());
    const result = await tend(root, ['add', 'Stdin body', '-'], { input: 'line one\nline two\n' });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(body(await read(root, 'backlog/stdin-body.md'))).toBe('line one\nline two\n');
  });

  it('refuses --priority 9 with a message on stderr and writes nothing', async () => {
    const root = await copyRepo(template());
    const before = await commitCount(root);
    const files = await backlogFiles(root);
    const result = await tend(root, ['add', 'Too urgent', '--priority', '9']);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/--priority must be an integer from 1 to 5/);
    expect(result.stdout).toBe('');
    expect(await backlogFiles(root)).toEqual(files);
    expect(await commitCount(root)).toBe(before);
  });

  it('exits 2 on --priority 9 without running the command (usage error)', async () => {
    const root = await copyRepo(template());
    const result = await tend(root, ['add', 'Too urgent', '--priority', '9']);
    expect(result.stderr).not.toMatch(/unexpected error/);
    expect(result.exitCode).toBe(2);
  });

  it('adds nothing when the title is not quoted (a stray argument is a usage error)', async () => {
    const root = await copyRepo(template());
    const before = await commitCount(root);
    const result = await tend(root, ['add', 'Fix', 'login']);
    expect(result.stderr).toMatch(/put the title in quotes/);
    expect(await commitCount(root)).toBe(before);
    expect(existsSync(path.join(root, 'backlog/fix.md'))).toBe(false);
    expect(result.exitCode).toBe(2);
  });

  it('reports a missing --body-file clearly', async () => {
    const root = await copyRepo(template());
    const result = await tend(root, ['add', 'Lost body', '--body-file', 'no-such-file.md']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/no-such-file\.md/);
    expect(result.stderr).not.toMatch(/unexpected error|\n\s+at /);
  });

  it('refuses an unknown --pipeline, naming the available ones', async () => {
    const root = await copyRepo(template());
    const before = await commitCount(root);
    const result = await tend(root, ['add', 'Some work', '--pipeline', 'nope']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/no pipeline named "nope"/);
    expect(result.stderr).toMatch(/coding/);
    expect(result.stderr).toMatch(/quick-fix/);
    expect(existsSync(path.join(root, 'backlog/some-work.md'))).toBe(false);
    expect(await commitCount(root)).toBe(before);

    const known = await tend(root, ['add', 'Some work', '--pipeline', 'quick-fix']);
    expect(known.exitCode).toBe(0);
    expect(frontmatter(await read(root, 'backlog/some-work.md')).pipeline).toBe('quick-fix');
  });

  it('refuses --depends-on an unknown id', async () => {
    const root = await copyRepo(template());
    const before = await commitCount(root);
    const result = await tend(root, ['add', 'Needs a ghost', '--depends-on', 'ghost-item']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/no item with id ghost-item/);
    expect(result.stderr).toMatch(/tend status/);
    expect(existsSync(path.join(root, 'backlog/needs-a-ghost.md'))).toBe(false);
    expect(await commitCount(root)).toBe(before);

    const notAnId = await tend(root, ['add', 'Needs a path', '--depends-on', '../etc']);
    expect(notAnId.exitCode).toBe(1);
    expect(notAnId.stderr).toMatch(/not an item id/);
  });

  it("leaves the user's staged file and unstaged modification untouched", async () => {
    const root = await copyRepo(template());
    await writeTree(root, { 'app.js': 'console.log(1);\n' });
    await git(root, 'add', 'app.js');
    await git(root, 'commit', '--quiet', '-m', 'app');
    await writeTree(root, { 'app.js': 'console.log(2); // unstaged\n', 'staged.txt': 'staged\n' });
    await git(root, 'add', 'staged.txt');

    const result = await tend(root, ['add', 'Careful now']);
    expect(result.exitCode).toBe(0);
    expect(await headFiles(root)).toEqual(['backlog/careful-now.md']);
    expect(await stagedFiles(root)).toEqual(['staged.txt']);
    expect((await git(root, 'diff', '--name-only')).trim()).toBe('app.js');
    expect(await read(root, 'app.js')).toBe('console.log(2); // unstaged\n');
    expect(await read(root, 'staged.txt')).toBe('staged\n');
    expect((await git(root, 'show', 'HEAD:app.js')).trim()).toBe('console.log(1);');
  });
});
