// The hostile-file corpus: odd, broken and malicious files and names in backlog/, all in ONE
// repository, read by one `tend status --json`, moved by one `tend run --once`, and read again;
// each case then checks its own outcome on those shared results. A case is either listed as
// invalid and left alone (bytes unchanged, never committed), or taken in and run like any item,
// and in no case does a name or a text reach a shell, a file outside backlog/ get read or
// committed, or one bad file stop the others.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itemField, settingsFor } from '../helpers/engine.js';
import { git, tend, tendJson, writeTree } from '../helpers/repo.js';
import type { InvalidJson, ItemJson } from '../cli/support.js';

interface Board {
  items: ItemJson[];
  invalid: InvalidJson[];
}

/** One phase, in the checkout: each valid item makes three commits (intake, claimed, done). */
const ONE_PHASE = '---\nphases:\n  - { name: work, prompt: build.md, artifact: work.md }\n---\nOne phase.\n';
const NFC = 'caf\u00e9';
const NFD = 'cafe\u0301';
const LONG_NAME = `${'a'.repeat(252)}.md`;
const DEEP = Array.from({ length: 300 }, () => 'd').join('/');
const LABELS = Array.from({ length: 5000 }, (_, i) => `l${i}`);
const SECRET_LINE = readFileSync('/etc/passwd', 'utf8').split('\n')[0] ?? 'root:x:0:0';

/** Files written before the first look; invalid ones must keep these exact bytes. */
const FILES: Record<string, string | Buffer> = {
  'backlog/utf16.md': Buffer.from('\ufeff---\ntitle: UTF-16\n---\nbody\n', 'utf16le'),
  'backlog/nul-inside.md': Buffer.from('---\ntitle: Nul inside\n---\nhello\0world\n'),
  'backlog/prio-float.md': '---\npriority: 1.5\n---\n# Float\n',
  'backlog/prio-negative.md': '---\npriority: -1\n---\n# Negative\n',
  'backlog/prio-string.md': '---\npriority: "1"\n---\n# String\n',
  'backlog/prio-huge.md': '---\npriority: 1e308\n---\n# Huge\n',
  'backlog/year-99999.md': '---\ncreated: 99999-01-01T00:00:00Z\n---\n# Far future\n',
  'backlog/dir.md/item.md': '# Inside a folder named dir.md\n',
  'backlog/new\nline.md': '# Newline in the name\n',
  'backlog/tab\tname.md': '# Tab in the name\n',
  'backlog/$(touch PWNED-dollar).md': '# Dollar-paren name\n',
  'backlog/`touch PWNED-backtick`.md': '# Backtick name\n',
  'backlog/semi;colon \'quote" .md': '# Semicolon and quotes\n',
  'backlog/-rf.md': '# Leading dash\n',
  [`backlog/${LONG_NAME}`]: '# 255-byte name\n',
  [`backlog/${NFC}.md`]: '# Composed\n',
  [`backlog/${NFD}.md`]: '# Decomposed\n',
  'backlog/Twin.md': '# Upper twin\n',
  'backlog/twin.md': '# Lower twin\n',
  'backlog/work.md': '# Named like the phase\n',
  'backlog/done.md': '# Named like done\n',
  'backlog/blocked.md': '# Named like blocked\n',
  'backlog/!!!.md': '# Punctuation only\n',
  'backlog/rtl\u202egnp.md': '# Right-to-left override\n',
  'backlog/.hidden.md': '# Hidden\n',
  'backlog/notes.txt': 'not Markdown\n',
  'backlog/self-dep.md': '---\ndepends_on: [self-dep]\n---\n# Depends on itself\n',
  'backlog/ring-a.md': '---\ndepends_on: [ring-b]\n---\n# Ring a\n',
  'backlog/ring-b.md': '---\ndepends_on: [ring-c]\n---\n# Ring b\n',
  'backlog/ring-c.md': '---\ndepends_on: [ring-d]\n---\n# Ring c\n',
  'backlog/ring-d.md': '---\ndepends_on: [ring-a]\n---\n# Ring d\n',
  'backlog/dep-as-string.md': '---\ndepends_on: twin\n---\n# Depends on a string\n',
  'backlog/big-title.md': `---\ntitle: ${'T'.repeat(100_000)}\n---\nA 100 KB title.\n`,
  'backlog/template.md': '---\ntitle: "Has {{id}} in it"\n---\nBody {{artifact_path}} {{#each x}} {{ feedback }}\n',
  'backlog/fm-only.md': '---\ntitle: Only frontmatter\n---\n',
  'backlog/ansi.md': '---\ntitle: "\\e[2J\\e[31mred\\a"\n---\n',
  'backlog/many-labels.md': `---\nlabels: [${LABELS.join(', ')}]\n---\n# Many labels\n`,
  'backlog/huge-attempts.md': '---\nattempts: 1000000\n---\n# Huge attempts\n',
  'backlog/second-fm.md': '---\ntitle: Second block\n---\n---\ntitle: fake\npriority: 1\n---\n',
  'backlog/title-null.md': '---\ntitle: null\n---\n# Heading wins\n',
  'backlog/*.md': '# Star glob\n',
  'backlog/?.md': '# Question glob\n',
  'backlog/[ab].md': '# Bracket glob\n',
  'backlog/:(glob)x.md': '# Pathspec magic\n',
  'backlog/back\\slash.md': '# Backslash\n',
  'backlog/a.md': '---\npriority: high\n---\n# Matched by the globs\n',
  'backlog/work/dir-item/item.md/inside.md': 'item.md is a folder here\n',
  'backlog/work/deep-folders/item.md': '---\ntitle: Folders 300 deep inside\n---\n',
  [`backlog/work/deep-folders/${DEEP}/x.md`]: 'at the bottom\n',
  'backlog/work/has-fifo/item.md': '---\ntitle: Has a FIFO\n---\n',
  'backlog/work/has-sub/item.md': '---\ntitle: Has a subfolder\n---\n',
  'backlog/work/has-sub/sub/deep.md': 'deep\n',
  'backlog/work/passwd-link/item.md': '---\ntitle: Links to passwd\n---\n',
  'backlog/work/linked-item/notes.md': 'the item.md here is a symlink\n',
};

const INVALID: [string, string, RegExp][] = [
  ['a UTF-16 file with a BOM', 'backlog/utf16.md', /binary file/],
  ['a NUL byte inside an otherwise text file', 'backlog/nul-inside.md', /binary file/],
  ['priority as a float (1.5)', 'backlog/prio-float.md', /expected an integer .* found 1\.5/],
  ['priority negative (-1)', 'backlog/prio-negative.md', /expected an integer .* found -1/],
  ['priority as a string ("1")', 'backlog/prio-string.md', /expected an integer .* found "1"/],
  ['priority huge (1e308)', 'backlog/prio-huge.md', /expected an integer .* found 1e\+308/],
  ['created in the year 99999', 'backlog/year-99999.md', /expected a date .* found "99999/],
  ['a folder named dir.md in the inbox', 'backlog/dir.md', /not a phase folder/],
  ['an item.md that is a symlink to /etc/passwd', 'backlog/work/linked-item', /symlink/],
  ['a symlink to /etc/passwd inside an item folder', 'backlog/work/passwd-link', /symlink/],
  ['an invalid a.md beside names that are globs matching it (*.md, ?.md, [ab].md)', 'backlog/a.md', /found "high"/],
  ['an item.md that is a FIFO', 'backlog/work/fifo-item', /item\.md is not a regular file/],
  ['an item.md that is a folder', 'backlog/work/dir-item', /item\.md is not a regular file/],
];

/** Intake ids of names that must reach no shell and still become ordinary items. */
const TAKEN_IN: [string, string, string][] = [
  ['a newline in the name', 'backlog/new\nline.md', 'new-line'],
  ['a tab in the name', 'backlog/tab\tname.md', 'tab-name'],
  ['$(...) in the name', 'backlog/$(touch PWNED-dollar).md', 'touch-pwned-dollar'],
  ['backticks in the name', 'backlog/`touch PWNED-backtick`.md', 'touch-pwned-backtick'],
  ['a semicolon and quotes in the name', 'backlog/semi;colon \'quote" .md', 'semi-colon-quote'],
  ['a leading dash (-rf.md)', 'backlog/-rf.md', 'rf'],
  ['a right-to-left override in the name', 'backlog/rtl\u202egnp.md', 'rtl-gnp'],
  ['a name of punctuation only (its id comes from the title)', 'backlog/!!!.md', 'punctuation-only'],
  ['a name equal to a phase (work.md)', 'backlog/work.md', 'work'],
  ['a name equal to done/ (done.md)', 'backlog/done.md', 'done'],
  ['a name equal to blocked/ (blocked.md)', 'backlog/blocked.md', 'blocked'],
  ['a glob as the name (*.md)', 'backlog/*.md', 'star-glob'],
  ['a glob as the name (?.md)', 'backlog/?.md', 'question-glob'],
  ['a glob as the name ([ab].md)', 'backlog/[ab].md', 'ab'],
  ['git pathspec magic in the name (:(glob)x.md)', 'backlog/:(glob)x.md', 'glob-x'],
  ['a backslash in the name', 'backlog/back\\slash.md', 'back-slash'],
];
/** Making a device file needs root (CAP_MKNOD). */
const CAN_MKNOD = process.getuid?.() === 0;

let root = '';
let before: Board;
let after: Board;
let runResult: Awaited<ReturnType<typeof tend>>;
let statusText = '';
let outside = '';
let cwdOfRun = '';
let server: net.Server | undefined;

beforeAll(async () => {
  outside = mkdtempSync(path.join(os.tmpdir(), 'tend-outside-'));
  writeFileSync(path.join(outside, 'linked.md'), '# Hard-linked from outside\n');
  root = await repoForTheWholeFile();
  const b = path.join(root, 'backlog');
  execFileSync('mkfifo', [path.join(b, 'fifo.md')]);
  execFileSync('mkfifo', [path.join(b, 'work/has-fifo/notes.md')]);
  mkdirSync(path.join(b, 'work/fifo-item'));
  execFileSync('mkfifo', [path.join(b, 'work/fifo-item/item.md')]);
  // A name that is not UTF-8: no string can name it.
  const badName = Buffer.concat([Buffer.from(`${b}/bad`), Buffer.from([0xff, 0xfe]), Buffer.from('name.md')]);
  writeFileSync(badName, '# Bad name\n');
  // A twin of /dev/zero: reading it never ends.
  if (CAN_MKNOD) execFileSync('mknod', [path.join(b, 'zero.md'), 'c', '1', '5']);
  await listenOnSocket(path.join(b, 'socket.md'));
  symlinkSync('/etc/passwd', path.join(b, 'work/linked-item/item.md'));
  symlinkSync('/etc/passwd', path.join(b, 'work/passwd-link/passwd.md'));
  symlinkSync('/etc/passwd', path.join(b, 'work/passwd-link/passwd.txt'));
  execFileSync('ln', [path.join(outside, 'linked.md'), path.join(b, 'hard-link.md')]);

  before = await tendJson<Board>(root, ['status']);
  cwdOfRun = root;
  runResult = await tend(root, ['run', '--once']);
  after = await tendJson<Board>(root, ['status', '--all']);
  statusText = (await tend(root, ['status', '--all'])).stdout;
}, 240_000);

afterAll(() => {
  server?.close();
  for (const dir of [outside, root]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Like runRepo, but kept for the whole file (scratch folders are removed after each test). */
async function repoForTheWholeFile(): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tend-hostile-files-'));
  await git(dir, 'init', '--quiet', '--initial-branch=main');
  await git(dir, 'config', 'commit.gpgsign', 'false');
  const init = await tend(dir, ['init']);
  if (init.exitCode !== 0) throw new Error(init.stderr);
  const settings = settingsFor('write-artifact.mjs', { default_pipeline: 'one', retries: 0 });
  await writeTree(dir, { 'ORCHESTRATOR.md': settings, 'pipelines/one.md': ONE_PHASE });
  await git(dir, 'add', '--all');
  await git(dir, 'commit', '--quiet', '-m', 'test setup');
  // The hostile files stay untracked: whatever of them reaches a commit, tend put there.
  await writeTree(dir, FILES);
  return dir;
}

/** A socket a server listens on for the whole file (closing it would remove the file). */
function listenOnSocket(file: string): Promise<void> {
  return new Promise((resolve) => {
    server = net.createServer();
    server.listen(file, () => resolve());
  });
}

const inDone = (id: string) => after.items.find((i) => i.id === id && i.location === 'done');
/** Every path any commit touched. */
async function committed(): Promise<string[]> {
  return (await git(root, 'log', '--format=', '--name-only', '-z')).split(/\0|\n/).filter(Boolean);
}
/** `file` is `refused` or inside it. */
const under = (file: string, refused: string): boolean => file === refused || file.startsWith(`${refused}/`);
/** The non-UTF-8 name as git prints it with -z and it is read as UTF-8. */
const BAD_NAME = 'backlog/bad\uFFFD\uFFFDname.md';

describe('hostile files, all in one repository', () => {
  it('one run over all of them ends (exit 0); nothing in backlog/ stays uncommitted but what it refused', async () => {
    expect(runResult.exitCode, runResult.stderr).toBe(0);
    const status = await git(root, 'status', '--porcelain', '-z', '--untracked-files=all', '--', 'backlog');
    const refused = [...INVALID.map(([, p]) => p), 'backlog/.hidden.md', 'backlog/notes.txt', BAD_NAME];
    for (const line of status.split('\0').filter(Boolean)) {
      const file = line.slice(3);
      expect(
        refused.some((p) => under(file, p)),
        file,
      ).toBe(true);
    }
  });

  describe.each(INVALID)('%s: listed as invalid, bytes unchanged, never committed', (_name, file, reason) => {
    it('is listed with the reason', () => {
      for (const board of [before, after]) {
        const entry = board.invalid.find((e) => e.path === file);
        expect(entry, JSON.stringify(board.invalid.map((e) => e.path))).toBeDefined();
        expect(
          entry?.problems.some((p) => reason.test(p.message)),
          JSON.stringify(entry?.problems),
        ).toBe(true);
      }
    });

    it('keeps its bytes and is never committed', async () => {
      for (const [rel, content] of Object.entries(FILES)) {
        if (under(rel, file)) expect(readFileSync(path.join(root, rel))).toEqual(Buffer.from(content));
      }
      expect((await committed()).filter((f) => under(f, file))).toEqual([]);
    });
  });

  it('/etc/passwd reached through a symlink is never read into output, a prompt or a commit', async () => {
    const history = await git(root, 'log', '-p', '--all');
    const boards = [JSON.stringify(before), JSON.stringify(after)];
    const everything = [...boards, statusText, runResult.stdout, runResult.stderr, history];
    for (const text of everything) expect(text).not.toContain(SECRET_LINE);
    expect(lstatSync(path.join(root, 'backlog/work/linked-item/item.md')).isSymbolicLink()).toBe(true);
  });

  describe.each(TAKEN_IN)('a hostile name, %s: taken in as an ordinary item, no shell runs it', (_name, file, id) => {
    it(`becomes ${id} and is done; the inbox file is gone`, () => {
      expect(before.items.find((i) => i.file === file)?.id).toBe(id);
      expect(inDone(id)).toBeDefined();
      expect(existsSync(path.join(root, file))).toBe(false);
    });
  });

  it('no shell ran a name: no PWNED file in the repository or where tend was started', () => {
    for (const dir of [root, cwdOfRun, path.join(root, 'backlog')]) {
      expect(existsSync(path.join(dir, 'PWNED-dollar'))).toBe(false);
      expect(existsSync(path.join(dir, 'PWNED-backtick'))).toBe(false);
    }
  });

  it('a 255-byte name gets a short id and is done', () => {
    const entry = before.items.find((i) => i.file === `backlog/${LONG_NAME}`);
    expect(entry?.id).toMatch(/^a+$/);
    expect(entry?.id.length).toBeLessThanOrEqual(80);
    expect(inDone(entry?.id ?? '')).toBeDefined();
  });

  it('unicode twins (NFC and NFD of the same name) get two ids, cafe and cafe-2, and both are done', () => {
    const ids = [NFC, NFD].map((n) => before.items.find((i) => i.file === `backlog/${n}.md`)?.id).sort();
    expect(ids).toEqual(['cafe', 'cafe-2']);
    expect(inDone('cafe') && inDone('cafe-2')).toBeTruthy();
  });

  it('case twins (Twin.md and twin.md) get two ids and both are done', () => {
    const ids = ['Twin', 'twin'].map((n) => before.items.find((i) => i.file === `backlog/${n}.md`)?.id).sort();
    expect(ids).toEqual(['twin', 'twin-2']);
    expect(inDone('twin') && inDone('twin-2')).toBeTruthy();
  });

  /** The reason `tend status --json` lists `file` as invalid with, before and after the run. */
  const invalidReasons = (file: string) =>
    [before, after].map((board) => board.invalid.find((e) => e.path === file)?.problems[0]?.message);

  it('a FIFO and a socket in the inbox never block tend, are listed as invalid, stay what they are, uncommitted', async () => {
    for (const name of ['fifo.md', 'socket.md']) {
      const stat = lstatSync(path.join(root, 'backlog', name));
      expect(name === 'fifo.md' ? stat.isFIFO() : stat.isSocket()).toBe(true);
      expect(before.items.map((i) => i.file)).not.toContain(`backlog/${name}`);
      expect(invalidReasons(`backlog/${name}`)).toEqual(
        Array(2).fill('is not a regular file (a FIFO, socket or device)'),
      );
    }
    expect((await committed()).filter((f) => /fifo\.md|socket\.md/.test(f))).toEqual([]);
  });

  it.runIf(CAN_MKNOD)(
    'a character device (a /dev/zero twin) in the inbox is listed as invalid, never read or committed',
    async () => {
      expect(lstatSync(path.join(root, 'backlog/zero.md')).isCharacterDevice()).toBe(true);
      expect(before.items.map((i) => i.file)).not.toContain('backlog/zero.md');
      expect(invalidReasons('backlog/zero.md')).toEqual(
        Array(2).fill('is not a regular file (a FIFO, socket or device)'),
      );
      expect(await committed()).not.toContain('backlog/zero.md');
    },
  );

  it('a FIFO inside an item folder never blocks the item: it is done, and the FIFO is never committed', async () => {
    expect(inDone('has-fifo')).toBeDefined();
    expect(lstatSync(path.join(root, 'backlog/done/has-fifo/notes.md')).isFIFO()).toBe(true);
    expect((await committed()).filter((f) => f.endsWith('has-fifo/notes.md'))).toEqual([]);
  });

  it('a file name that is not UTF-8 is listed as invalid and left alone: not taken in, not committed', async () => {
    const names = await git(root, 'status', '--porcelain', '--untracked-files=all', '--', 'backlog');
    expect(names).toContain('"backlog/bad\\377\\376name.md"');
    expect(before.items.some((i) => i.file.startsWith('backlog/bad'))).toBe(false);
    expect(invalidReasons(BAD_NAME)).toEqual(Array(2).fill('its name is not valid UTF-8'));
  });

  it('folders 300 deep inside an item folder travel with it and are committed', async () => {
    expect(inDone('deep-folders')).toBeDefined();
    const bottom = `backlog/done/deep-folders/${DEEP}/x.md`;
    expect(await git(root, 'ls-files', bottom)).toBe(bottom);
  });

  it('a subfolder inside an item folder travels with the item', async () => {
    expect(inDone('has-sub')).toBeDefined();
    expect(readFileSync(path.join(root, 'backlog/done/has-sub/sub/deep.md'), 'utf8')).toBe('deep\n');
    expect(await git(root, 'ls-files', 'backlog/done/has-sub/sub')).toBe('backlog/done/has-sub/sub/deep.md');
  });

  it('a hard link to a file outside the repository is taken in; the outside file keeps its text', () => {
    expect(inDone('hard-link')).toBeDefined();
    expect(readFileSync(path.join(outside, 'linked.md'), 'utf8')).toBe('# Hard-linked from outside\n');
  });

  it('.hidden.md and notes.txt are no items: not listed, not moved, not committed', async () => {
    for (const file of ['backlog/.hidden.md', 'backlog/notes.txt']) {
      expect(readFileSync(path.join(root, file))).toEqual(Buffer.from(FILES[file] as string));
      expect(before.items.map((i) => i.file)).not.toContain(file);
      expect(await committed()).not.toContain(file);
    }
  });

  it('an item that depends on itself is blocked with the cycle as reason', async () => {
    expect(after.items.find((i) => i.id === 'self-dep')?.location).toBe('blocked');
    expect(await itemField(root, 'backlog/blocked/self-dep/item.md', 'blocked_reason')).toMatch(/cycle/);
  });

  it('a ring of four dependencies blocks all four, each naming the cycle', async () => {
    for (const id of ['ring-a', 'ring-b', 'ring-c', 'ring-d']) {
      expect(after.items.find((i) => i.id === id)?.location).toBe('blocked');
      expect(await itemField(root, `backlog/blocked/${id}/item.md`, 'blocked_reason')).toMatch(/cycle/);
    }
  });

  it('depends_on written as one string waits for that item, then is done', () => {
    expect(before.items.find((i) => i.id === 'dep-as-string')?.depends_on).toEqual(['twin']);
    expect(inDone('dep-as-string')).toBeDefined();
  });

  it('a 100 KB title: the item is done and no commit subject carries the title', async () => {
    expect(inDone('big-title')?.title.length).toBe(100_000);
    const subjects = (await git(root, 'log', '--format=%s')).split('\n');
    expect(Math.max(...subjects.map((s) => s.length))).toBeLessThan(200);
  });

  it('{{...}} in an item title and body reaches the agent literally, never rendered as a template', () => {
    const prompt = readFileSync(path.join(root, '.tend/logs/template/work.1.prompt.md'), 'utf8');
    expect(prompt).toContain('Body {{artifact_path}} {{#each x}} {{ feedback }}');
    expect(inDone('template')?.title).toBe('Has {{id}} in it');
  });

  it('an item of frontmatter only, a null title, 5000 labels and attempts: 1000000 are all fine and done', () => {
    expect(inDone('fm-only')?.title).toBe('Only frontmatter');
    expect(inDone('title-null')?.title).toBe('Heading wins');
    expect(inDone('many-labels')?.labels).toHaveLength(5000);
    expect(inDone('huge-attempts')).toBeDefined();
  });

  it('a second frontmatter block in the body stays body text; it sets nothing', async () => {
    expect(inDone('second-fm')).toMatchObject({ title: 'Second block', priority: 3 });
    const text = readFileSync(path.join(root, 'backlog/done/second-fm/item.md'), 'utf8');
    expect(text).toMatch(/---\n---\ntitle: fake\npriority: 1\n---\n$/);
  });

  it('escape sequences in a title never reach the terminal raw: `tend status` shows them replaced', () => {
    expect(inDone('ansi')?.title).toBe('\x1b[2J\x1b[31mred\x07');
    const line = statusText.split('\n').find((l) => l.includes('  ansi ')) ?? '';
    expect(line).toContain('?[2J?[31mred?');
    expect(statusText).not.toMatch(/[\x07\x1b]/); // eslint-disable-line no-control-regex
  });
});
