// The data commands (`status`, `show`, `add`) start without the run loop's machinery: neither
// the agent modules nor the process runner nor execa, which cost start-up on every command.
// Checked twice over the built CLI in dist/, an esbuild bundle split into chunks whose contents
// esbuild lists in dist/meta.json: by walking the static imports between chunks from what each
// command's handler loads, and by recording every chunk a real `tend status`, `show` and `add` load.
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { initializedRepo, PACKAGE_ROOT, scratchDir, tend } from '../helpers/repo.js';

const DIST = path.join(PACKAGE_ROOT, 'dist');

/** esbuild's metafile: each output file (relative to the package root), the sources in it, what it imports. */
interface Output {
  entryPoint?: string;
  inputs: Record<string, unknown>;
  imports: { path: string; kind: string; external?: boolean }[];
}
const outputs = (): Record<string, Output> =>
  (JSON.parse(readFileSync(path.join(DIST, 'meta.json'), 'utf8')) as { outputs: Record<string, Output> }).outputs;

/** What a data command must not load: agents, the child process runner, execa. */
function forbidden(source: string): boolean {
  return source.startsWith('src/agents/') || source === 'src/edges/process.ts' || /(^|\/)execa(\/|$)/.test(source);
}

/** What only `tend board` may load: the web server, the Markdown to HTML rendering, src/board/. */
function boardOnly(source: string): boolean {
  return (
    source.startsWith('src/board/') ||
    /(^|\/)node_modules\/(hono|@hono\/node-server|remark-rehype|rehype-[a-z]+|remark-gfm|hast-util-sanitize)\//.test(
      source,
    )
  );
}

/** The output file a source file starts in: the entry or the chunk its `import()` loads. */
function outputOf(source: string): string {
  const found = Object.entries(outputs()).find(([, o]) => o.entryPoint === source);
  if (!found) throw new Error(`no output of dist/ starts at ${source}`);
  return found[0];
}

/** The sources in every output reached from `source`'s through static imports; `import()` is the lazy boundary. */
function staticGraph(source: string): { files: Set<string>; sources: Set<string>; packages: Set<string> } {
  const all = outputs();
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [outputOf(source)];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const i of (all[file]?.imports ?? []).filter((i) => i.kind !== 'dynamic-import')) {
      if (i.external) packages.add(i.path);
      else pending.push(i.path);
    }
  }
  return { files, sources: new Set([...files].flatMap((f) => Object.keys(all[f]?.inputs ?? {}))), packages };
}

/** The sources bundled into the given files of dist/ (absolute paths). */
function sourcesIn(files: string[]): string[] {
  const all = outputs();
  return files.flatMap((f) => Object.keys(all[path.relative(PACKAGE_ROOT, f).split(path.sep).join('/')]?.inputs ?? {}));
}

describe('what the data commands import (static graph of the chunks in dist/)', () => {
  // main.js and the command table load for every command; a data command's handler then loads
  // its command module and edges/repo.js (openRepo).
  it.each([
    'src/cli/main.ts',
    'src/cli/commands/status.ts',
    'src/cli/commands/show.ts',
    'src/cli/commands/add.ts',
    'src/cli/commands/log.ts',
    'src/edges/repo.ts',
  ])('%s reaches no agent module, no process runner and no execa', (entry) => {
    const { sources, packages } = staticGraph(entry);
    expect(sources).toContain(entry);
    expect([...sources].filter(forbidden)).toEqual([]);
    expect([...packages].filter((p) => p === 'execa' || p.startsWith('execa/'))).toEqual([]);
  });

  it.each([
    'src/cli/main.ts',
    'src/cli/commands/status.ts',
    'src/cli/commands/show.ts',
    'src/cli/commands/add.ts',
    'src/cli/commands/log.ts',
    'src/cli/commands/run.ts',
    'src/cli/commands/item-actions.ts',
  ])('%s reaches neither the web server nor the HTML rendering of tend board', (entry) => {
    expect([...staticGraph(entry).sources].filter(boardOnly)).toEqual([]);
  });

  it('tend board reaches hono, rehype-sanitize and src/board/ (so the check above can see them)', () => {
    const reached = [...staticGraph('src/cli/commands/board.ts').sources].filter(boardOnly);
    expect(reached).toEqual(
      expect.arrayContaining([
        'src/board/server.ts',
        expect.stringMatching(/node_modules\/hono\//),
        expect.stringMatching(/node_modules\/rehype-sanitize\//),
      ]),
    );
  });

  it('walks far enough to see the forbidden modules where they are used: the run command reaches them', () => {
    const reached = [...staticGraph('src/cli/commands/run.ts').sources].filter(forbidden);
    expect(reached).toEqual(expect.arrayContaining(['src/edges/process.ts', expect.stringMatching(/^src\/agents\//)]));
  });

  it('tend --help loads neither zod nor the configuration: the command line alone', () => {
    const { sources } = staticGraph('src/cli/main.ts');
    expect([...sources].filter((s) => /(^|\/)node_modules\/zod\/|^src\/(core|edges)\/config/.test(s))).toEqual([]);
  });
});

describe('what the data commands load (a real run of the built CLI)', () => {
  /** Runs tend with a module hook that writes each module's URL, and returns the URLs. */
  async function modulesLoaded(root: string, args: string[]): Promise<string[]> {
    const dir = await scratchDir();
    const log = path.join(dir, 'modules.log');
    const hooks = path.join(dir, 'hooks.mjs');
    await writeFile(
      hooks,
      "import { appendFileSync } from 'node:fs';\n" +
        'export async function load(url, context, next) {\n' +
        `  appendFileSync(${JSON.stringify(log)}, url + '\\n');\n` +
        '  return next(url, context);\n}\n',
    );
    const register = path.join(dir, 'register.mjs');
    const hooksUrl = JSON.stringify(pathToFileURL(hooks).href);
    await writeFile(register, `import { register } from 'node:module';\nregister(${hooksUrl});\n`);
    const result = await tend(root, args, { env: { NODE_OPTIONS: `--import=${pathToFileURL(register).href}` } });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    return (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  }

  it('tend status, show, add and log load no agent module, no process runner, no execa and nothing of tend board', async () => {
    const root = await initializedRepo();
    const runs = [['add', 'First item'], ['status'], ['show', 'first-item'], ['status', '--json'], ['log']];
    for (const args of runs) {
      const urls = await modulesLoaded(root, args);
      const files = urls.filter((u) => u.startsWith('file:')).map((u) => new URL(u).pathname);
      // The command itself was loaded, so the hook saw the lazy imports too.
      expect(files).toContain(path.join(PACKAGE_ROOT, outputOf(`src/cli/commands/${args[0]}.ts`)));
      const sources = sourcesIn(files);
      expect(sources).toContain(`src/cli/commands/${args[0]}.ts`);
      const loaded = [...sources, ...files.filter((f) => !f.startsWith(DIST))].filter(
        (s) => forbidden(s) || boardOnly(s),
      );
      expect({ args, loaded }).toEqual({ args, loaded: [] });
    }
  });
});
