// Bad input gets a clear error and nothing is lost: each bad file is listed as invalid with its
// reason, is never rewritten, and the valid items beside it still work. And the odd-but-valid
// files (BOM, CRLF, unicode names, colliding slugs) just work.
import { lstat, mkdir, readlink, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitCount, git, scratchDir, tend, writeTree } from '../helpers/repo.js';
import { bytes, copyRepo, sharedRepo, statusJson, type InvalidJson, type StatusJson } from './support.js';

/** Valid items every test keeps beside its bad file: one in the inbox, one in a phase folder. */
const NEIGHBOURS = ['valid-neighbour', 'folder-item'];

const template = sharedRepo(async (root) => {
  const add = await tend(root, ['add', 'Valid neighbour', '-p', '2']);
  if (add.exitCode !== 0) throw new Error(add.stderr);
  await writeTree(root, { 'backlog/design/folder-item/item.md': '---\ntitle: Folder item\n---\nIn design.\n' });
  await git(root, 'add', 'backlog');
  await git(root, 'commit', '--quiet', '-m', 'folder item');
});

interface Checked {
  json: StatusJson;
  text: string;
  entry: InvalidJson;
}

/**
 * Write `files`, then check `tend status` (text and JSON) lists `bad` as invalid with a problem
 * matching `reason`, still lists the neighbours, and that no file changed and nothing was committed.
 */
async function expectInvalid(root: string, bad: string, reason: RegExp): Promise<Checked> {
  const before = await snapshotFiles(root);
  const commits = await commitCount(root);

  const [text, json] = await Promise.all([tend(root, ['status']), statusJson(root)]);
  expect(text.exitCode).toBe(0);
  expect(text.stderr).toBe('');
  const invalidSection = text.stdout.slice(text.stdout.indexOf('invalid ('));
  expect(text.stdout).toContain('invalid (');
  expect(invalidSection).toContain(`  ${bad}\n`);
  expect(invalidSection).toMatch(reason);
  for (const id of NEIGHBOURS)
    expect(text.stdout.slice(0, text.stdout.indexOf('invalid ('))).toMatch(new RegExp(`^  ${id} `, 'm'));

  const entry = json.invalid.find((i) => i.path === bad);
  expect(entry, `${bad} in ${JSON.stringify(json.invalid)}`).toBeDefined();
  expect(entry?.problems.length).toBeGreaterThan(0);
  expect(
    entry?.problems.some((p) => reason.test(p.message)),
    JSON.stringify(entry?.problems),
  ).toBe(true);
  for (const p of entry?.problems ?? []) expect(p.file.startsWith(bad) || bad.startsWith(p.file)).toBe(true);
  expect(json.items.map((i) => i.id)).toEqual(expect.arrayContaining(NEIGHBOURS));

  expect(await snapshotFiles(root)).toEqual(before);
  expect(await commitCount(root)).toBe(commits);
  return { json, text: text.stdout, entry: entry as InvalidJson };
}

/** Every file under backlog/ with its bytes (a symlink as its target path, never followed). */
async function snapshotFiles(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const list = await git(root, 'ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', 'backlog');
  for (const rel of list.split('\0').filter(Boolean)) {
    const full = path.join(root, rel);
    const stat = await lstat(full);
    out[rel] = stat.isSymbolicLink() ? `link -> ${await readlink(full)}` : (await readFile(full)).toString('base64');
  }
  return out;
}

describe('bad input: listed as invalid, never rewritten, neighbours unharmed', () => {
  it('malformed YAML', async () => {
    const root = await copyRepo(template());
    await writeTree(root, { 'backlog/yaml.md': '---\ntitle: [unclosed\npriority: 2\n---\nBody.\n' });
    const { entry } = await expectInvalid(root, 'backlog/yaml.md', /invalid YAML/);
    expect(entry.problems[0]?.line).toEqual(expect.any(Number));
  });

  it('non-UTF-8 bytes', async () => {
    const root = await copyRepo(template());
    await writeTree(root, { 'backlog/latin1.md': Buffer.from([0xff, 0xfe, 0x41]) });
    await expectInvalid(root, 'backlog/latin1.md', /not valid UTF-8/);
  });

  it('a binary file (NUL bytes)', async () => {
    const root = await copyRepo(template());
    await writeTree(root, {
      'backlog/image.md': Buffer.from([0x23, 0x20, 0x41, 0x00, 0x01, 0x02, 0x89, 0x50, 0x4e, 0x47]),
    });
    await expectInvalid(root, 'backlog/image.md', /binary/);
  });

  it('an empty file', async () => {
    const root = await copyRepo(template());
    await writeTree(root, { 'backlog/empty.md': '' });
    await expectInvalid(root, 'backlog/empty.md', /empty/);
  });

  it('a file over 1 MiB', async () => {
    const root = await copyRepo(template());
    const huge = `---\ntitle: Huge\n---\n${'All work and no play. '.repeat(48_000)}\n`;
    expect(Buffer.byteLength(huge)).toBeGreaterThan(1024 * 1024);
    await writeTree(root, { 'backlog/huge.md': huge });
    await expectInvalid(root, 'backlog/huge.md', /limited to 1 MiB/);
  });

  it('a file just over 1 MiB says by how much', async () => {
    const root = await copyRepo(template());
    const head = '# Just too big\n';
    await writeTree(root, { 'backlog/just-over.md': head + 'a'.repeat(1024 * 1024 + 1 - head.length) });
    const { entry } = await expectInvalid(root, 'backlog/just-over.md', /limited to 1 MiB/);
    // "1.0 MiB; limited to 1 MiB" would read as a contradiction.
    expect(entry.problems[0]?.message).toMatch(/1048577 bytes/);
  });

  it('a wrong type: priority: high', async () => {
    const root = await copyRepo(template());
    await writeTree(root, { 'backlog/wrong-type.md': '---\ntitle: Wrong type\npriority: high\n---\n' });
    const { entry } = await expectInvalid(
      root,
      'backlog/wrong-type.md',
      /expected an integer from 1 .*to 5.*found "high"/,
    );
    expect(entry.problems).toEqual([
      expect.objectContaining({ file: 'backlog/wrong-type.md', line: 3, key: 'priority' }),
    ]);
  });

  it('an unknown pipeline: nope', async () => {
    const root = await copyRepo(template());
    await writeTree(root, { 'backlog/no-such-pipeline.md': '---\npipeline: nope\n---\n# Where to?\n' });
    const { entry } = await expectInvalid(root, 'backlog/no-such-pipeline.md', /no pipeline named "nope"/);
    expect(entry.problems[0]).toMatchObject({ key: 'pipeline', fix: expect.stringMatching(/coding.*quick-fix/) });
  });

  it('ids and names that would escape backlog/ (every problem at once)', async () => {
    const root = await copyRepo(template());
    await writeTree(root, {
      'backlog/escape.md':
        '---\ntitle: Escape\npipeline: ../../etc\ndepends_on: [valid-neighbour, ../../etc/passwd]\n---\n',
    });
    const { entry } = await expectInvalid(root, 'backlog/escape.md', /depends_on|pipeline/);
    expect(entry.problems.map((p) => p.key).sort()).toEqual(['depends_on.1', 'pipeline']);
    expect(entry.problems.find((p) => p.key === 'pipeline')).toMatchObject({
      line: 3,
      message: expect.stringMatching(/found "\.\.\/\.\.\/etc"/),
    });
  });

  it('duplicate ids: the same folder name in two phase folders', async () => {
    const root = await copyRepo(template());
    await writeTree(root, {
      'backlog/research/x/item.md': '---\ntitle: X in research\n---\n',
      'backlog/design/x/item.md': '---\ntitle: X in design\n---\n',
    });
    const { json } = await expectInvalid(root, 'backlog/research/x/item.md', /duplicate id x/);
    const other = json.invalid.find((i) => i.path === 'backlog/design/x/item.md');
    expect(other?.problems[0]?.message).toMatch(/duplicate id x: also at backlog\/research\/x\/item\.md/);
    expect(json.items.map((i) => i.id)).not.toContain('x');
  });

  it('a folder in backlog/ that is not a phase', async () => {
    const root = await copyRepo(template());
    await writeTree(root, { 'backlog/ideas/some-idea/item.md': '# An idea\n', 'backlog/ideas/loose.md': '# Loose\n' });
    await expectInvalid(root, 'backlog/ideas', /not a phase folder/);
  });

  it('a phase-folder item whose folder name is not a valid id', async () => {
    const root = await copyRepo(template());
    await writeTree(root, { 'backlog/design/Bad Name/item.md': '---\ntitle: Bad name\n---\n' });
    const { entry } = await expectInvalid(root, 'backlog/design/Bad Name', /not a valid item id/);
    expect(entry.problems[0]?.fix).toMatch(/bad-name/);
  });

  it('a file directly in a phase folder', async () => {
    const root = await copyRepo(template());
    await writeTree(root, { 'backlog/design/stray.md': '# Stray\n' });
    await expectInvalid(root, 'backlog/design/stray.md', /file directly in a phase folder/);
  });

  describe('symlinks are refused and never followed', () => {
    it('an inbox symlink to /etc/passwd', async () => {
      const root = await copyRepo(template());
      await symlink('/etc/passwd', path.join(root, 'backlog/passwd.md'));
      const { text, json } = await expectInvalid(root, 'backlog/passwd.md', /symlink/);
      const secret = (await readFile('/etc/passwd', 'utf8')).split('\n')[0] ?? 'root:';
      const [show, doctor] = await Promise.all([tend(root, ['show', 'backlog/passwd.md']), tend(root, ['doctor'])]);
      for (const output of [text, JSON.stringify(json), show.stdout, show.stderr, doctor.stdout]) {
        expect(output).not.toContain(secret);
        expect(output).not.toMatch(/root:x?:0/);
      }
    });

    it('symlinks to files and folders outside the repository, in the inbox, a phase folder and an item folder', async () => {
      const root = await copyRepo(template());
      const outside = await scratchDir();
      const secret = 'TOP-SECRET-7f3a9c';
      await writeTree(outside, {
        'secret.md': `---\ntitle: ${secret}\n---\n${secret}\n`,
        'dir/item.md': `# ${secret}\n`,
      });
      await symlink(path.join(outside, 'secret.md'), path.join(root, 'backlog/outside.md'));
      await symlink(path.join(outside, 'dir'), path.join(root, 'backlog/design/linked-dir'));
      await mkdir(path.join(root, 'backlog/design/has-link'));
      await writeFile(path.join(root, 'backlog/design/has-link/item.md'), '# Has a link\n');
      await symlink(path.join(outside, 'secret.md'), path.join(root, 'backlog/design/has-link/notes.md'));

      const { text, json } = await expectInvalid(root, 'backlog/outside.md', /symlink/);
      expect(json.invalid.find((i) => i.path === 'backlog/design/linked-dir')?.problems[0]?.message).toMatch(/symlink/);
      expect(json.invalid.find((i) => i.path === 'backlog/design/has-link')?.problems[0]).toMatchObject({
        file: 'backlog/design/has-link/notes.md',
        message: expect.stringMatching(/symlink/),
      });
      const show = await tend(root, ['show', 'has-link', '--json']);
      for (const output of [text, JSON.stringify(json), show.stdout, show.stderr]) expect(output).not.toContain(secret);
      expect(await readFile(path.join(outside, 'secret.md'), 'utf8')).toContain(secret);
    });
  });

  it('tend add and tend doctor next to bad files leave them untouched and uncommitted', async () => {
    const root = await copyRepo(template());
    await writeTree(root, {
      'backlog/empty.md': '',
      'backlog/latin1.md': Buffer.from([0xff, 0xfe, 0x41]),
      'backlog/yaml.md': '---\ntitle: [\n---\n',
    });
    const before = await snapshotFiles(root);
    expect((await tend(root, ['add', 'Still works'])).exitCode).toBe(0);
    expect((await tend(root, ['doctor'])).stdout).toMatch(/warn backlog items/);
    const after = await snapshotFiles(root);
    expect(after).toMatchObject(before);
    expect(Object.keys(after).filter((f) => !(f in before))).toEqual(['backlog/still-works.md']);
    expect((await git(root, 'status', '--porcelain')).split('\n').sort()).toEqual([
      '?? backlog/empty.md',
      '?? backlog/latin1.md',
      '?? backlog/yaml.md',
    ]);
  });
});

describe('odd but valid files work', () => {
  const odd = sharedRepo(async (root) => {
    await tend(root, ['add', 'Valid neighbour', '-p', '2']);
    await writeTree(root, {
      'backlog/design/folder-item/item.md': '---\ntitle: Folder item\n---\nIn design.\n',
      'backlog/bom.md': Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from('---\ntitle: Has a BOM\npriority: 4\n---\nBody.\n'),
      ]),
      'backlog/bom-heading.md': '\uFEFF# BOM then a heading\n',
      'backlog/crlf.md': '---\r\ntitle: Windows line ends\r\npriority: 1\r\nlabels: [win]\r\n---\r\nBody.\r\n',
      'backlog/crlf-heading.md': '# CRLF heading\r\n\r\ntext\r\n',
      'backlog/Café crème brûlée.md': '# Dessert menu\n',
      // Slugs to `valid-neighbour` and `folder-item`, ids that already exist.
      'backlog/Valid Neighbour.md': '# Same slug, written by hand\n',
      'backlog/folder-item.md': '# Same id as the folder item\n',
    });
  });

  it('a BOM file is valid and its title is read; the file is not rewritten', async () => {
    const before = await bytes(odd(), 'backlog/bom.md');
    const json = await statusJson(odd());
    expect(json.items.find((i) => i.file === 'backlog/bom.md')).toMatchObject({
      id: 'bom',
      title: 'Has a BOM',
      priority: 4,
    });
    expect(json.items.find((i) => i.file === 'backlog/bom-heading.md')).toMatchObject({ title: 'BOM then a heading' });
    expect(await bytes(odd(), 'backlog/bom.md')).toEqual(before);
  });

  it('a CRLF file is valid and its title is read; the file is not rewritten', async () => {
    const before = await bytes(odd(), 'backlog/crlf.md');
    const json = await statusJson(odd());
    expect(json.items.find((i) => i.file === 'backlog/crlf.md')).toMatchObject({
      id: 'crlf',
      title: 'Windows line ends',
      priority: 1,
      labels: ['win'],
    });
    expect(json.items.find((i) => i.file === 'backlog/crlf-heading.md')).toMatchObject({ title: 'CRLF heading' });
    expect(await bytes(odd(), 'backlog/crlf.md')).toEqual(before);
  });

  it('a file name with spaces and unicode gets an ASCII id', async () => {
    const json = await statusJson(odd());
    expect(json.items.find((i) => i.file === 'backlog/Café crème brûlée.md')).toMatchObject({
      id: 'cafe-creme-brulee',
      title: 'Dessert menu',
    });
    const show = await tend(odd(), ['show', 'cafe-creme-brulee']);
    expect(show.exitCode).toBe(0);
    expect(show.stdout).toMatch(/Dessert menu/);
    expect((await tend(odd(), ['status'])).stdout).toMatch(/cafe-creme-brulee\s+p3/);
  });

  it('an inbox file whose slug collides with an existing item gets a -2 id; the existing item keeps its id', async () => {
    const json = await statusJson(odd());
    expect(json.invalid).toEqual([]);
    const ids = Object.fromEntries(json.items.map((i) => [i.file, i.id]));
    expect(ids['backlog/valid-neighbour.md']).toBe('valid-neighbour');
    expect(ids['backlog/Valid Neighbour.md']).toBe('valid-neighbour-2');
    expect(ids['backlog/design/folder-item/item.md']).toBe('folder-item');
    expect(ids['backlog/folder-item.md']).toBe('folder-item-2');
    expect(new Set(Object.values(ids)).size).toBe(json.items.length);
    const show = await tend(odd(), ['show', 'valid-neighbour', '--json']);
    expect((JSON.parse(show.stdout) as { item: { title: string } }).item.title).toBe('Valid neighbour');
  });
});
