// The data commands (`status`, `show`, `add`) start without the run loop's machinery: neither
// the agent modules nor the process runner nor execa, which cost start-up on every command.
// Checked twice over the built CLI in dist/: by walking the static imports of what each command's
// handler loads, and by recording every module a real `tend status`, `show` and `add` load.
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { initializedRepo, PACKAGE_ROOT, scratchDir, tend } from '../helpers/repo.js';

const DIST = path.join(PACKAGE_ROOT, 'dist');

/** What a data command must not load: agents, the child process runner, execa. */
function forbidden(module: string): boolean {
  const rel = path.relative(DIST, module).split(path.sep).join('/');
  return rel.startsWith('agents/') || rel === 'edges/process.js' || /(^|\/)execa(\/|$)/.test(module);
}

/** The modules a file imports statically; `import()` is the lazy boundary and is not followed. */
function staticImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  return source.statements.flatMap((statement) =>
    (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) &&
    statement.moduleSpecifier &&
    ts.isStringLiteral(statement.moduleSpecifier)
      ? [statement.moduleSpecifier.text]
      : [],
  );
}

/** Every file of dist/ reached from `entry` through static relative imports, and the packages named on the way. */
function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [path.join(DIST, entry)];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const specifier of staticImports(file)) {
      if (specifier.startsWith('.')) pending.push(path.resolve(path.dirname(file), specifier));
      else packages.add(specifier);
    }
  }
  return { files, packages };
}

describe('what the data commands import (static graph of dist/)', () => {
  // main.js and the command table load for every command; a data command's handler then loads
  // its command module and edges/repo.js (openRepo).
  it.each(['cli/main.js', 'cli/commands/status.js', 'cli/commands/show.js', 'cli/commands/add.js', 'edges/repo.js'])(
    '%s reaches no agent module, no process runner and no execa',
    (entry) => {
      const { files, packages } = staticGraph(entry);
      expect(files.size).toBeGreaterThan(0);
      const reached = [...files, ...packages].filter(forbidden).map((f) => path.relative(DIST, f));
      expect(reached).toEqual([]);
      expect([...packages].filter((p) => p === 'execa' || p.startsWith('execa/'))).toEqual([]);
    },
  );

  it('walks far enough to see the forbidden modules where they are used: the run command reaches them', () => {
    const reached = [...staticGraph('cli/commands/run.js').files].filter(forbidden);
    expect(reached.map((f) => path.relative(DIST, f))).toEqual(
      expect.arrayContaining(['edges/process.js', expect.stringMatching(/^agents\//)]),
    );
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

  it('tend status, show and add load no agent module, no process runner and no execa', async () => {
    const root = await initializedRepo();
    const runs = [['add', 'First item'], ['status'], ['show', 'first-item'], ['status', '--json']];
    for (const args of runs) {
      const urls = await modulesLoaded(root, args);
      const files = urls.filter((u) => u.startsWith('file:')).map((u) => new URL(u).pathname);
      // The command itself was loaded, so the hook saw the lazy imports too.
      expect(files).toContain(path.join(DIST, 'cli', 'commands', `${args[0]}.js`));
      expect({ args, loaded: files.filter(forbidden) }).toEqual({ args, loaded: [] });
    }
  });
});
