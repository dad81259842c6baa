#!/usr/bin/env node
// `npm run build`: src/ bundled by esbuild into dist/, which bin/tend.js runs. One file per
// command's implementation stays behind each `import()` of the command table (code splitting),
// so `tend --help` loads the command line alone and `tend status` none of the run loop. Bundling
// saves Node resolving and compiling ~180 small modules (95 of them zod's) on every start.
// Type checking is `npm run typecheck`; vitest runs src/ directly.
//
// Layout: dist/cli/main.js (the entry) and dist/chunks/*.js, every file one folder below dist/,
// so `new URL('../..', import.meta.url)` is the package root from any of them as it is from
// src/edges/ (src/edges/assets.ts). dist/meta.json is esbuild's map of which source files went
// into which output file: test/cli/startup-imports.test.ts reads it.
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');

/**
 * yargs's help goes through cliui and wrap-ansi, which ask string-width 7 for the width of every
 * word; that version measures even plain ASCII with Intl.Segmenter and a fresh emoji regex per
 * call (~40 ms of `tend --help`). yargs itself depends on string-width 8, the same function with
 * a fast path for ASCII: every import of string-width in the bundle gets that one. It makes its
 * Intl.Segmenter when loaded (~10-20 ms, every command); here it is made on first use instead,
 * which plain ASCII text never reaches.
 */
const EAGER_SEGMENTER = 'const segmenter = new Intl.Segmenter();';
const LAZY_SEGMENTER =
  'let madeSegmenter;\nconst segmenter = { segment: (text) => (madeSegmenter ??= new Intl.Segmenter()).segment(text) };';
const oneStringWidth = {
  name: 'one-string-width',
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.pluginData === 'one-string-width') return undefined;
      const yargsDir = path.dirname(fileURLToPath(import.meta.resolve('yargs')));
      return b.resolve('string-width', { resolveDir: yargsDir, kind: args.kind, pluginData: 'one-string-width' });
    });
    b.onLoad({ filter: /[\\/]string-width[\\/]index\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes(EAGER_SEGMENTER)) throw new Error(`build: ${args.path} changed; see oneStringWidth`);
      return { contents: text.replace(EAGER_SEGMENTER, LAZY_SEGMENTER), loader: 'js' };
    });
  },
};

/**
 * yargs builds the whole help text of the command it runs right after calling the handler, in
 * case the handler shows it later (~5-10 ms of every command). tend's handlers never show help,
 * and a usage error goes to tend's own `fail`, which prints no help: the text is never read.
 */
const CACHE_HELP = 'yargs.getInternalMethods().getUsageInstance().cacheHelpMessage();';
const noHelpCache = {
  name: 'no-help-cache',
  setup(b) {
    b.onLoad({ filter: /[\\/]yargs[\\/]build[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes(CACHE_HELP)) throw new Error(`build: ${args.path} changed; see noHelpCache`);
      return { contents: text.replace(CACHE_HELP, '/* help text not cached: see scripts/build.js */'), loader: 'js' };
    });
  },
};

/**
 * yaml's build for Node is CommonJS: bundled, each of its ~70 modules becomes a function that V8
 * parses once to skip it and again when it runs, and none of it can be left out. Its ES module
 * build (the same code, for browsers) is parsed once and is a quarter smaller once esbuild drops
 * what tend does not use. Two differences from the Node build, both in logging: its warnings go
 * to console.warn, made process.emitWarning here as in the Node build; and it has no LOG_TOKENS /
 * LOG_STREAM (yaml's own debugging output, printed on stdout).
 */
const CONSOLE_WARN = 'console.warn(warning);';
const yamlModules = {
  name: 'yaml-modules',
  setup(b) {
    b.onResolve({ filter: /^yaml$/ }, () => {
      const nodeBuild = fileURLToPath(import.meta.resolve('yaml'));
      return { path: path.join(nodeBuild, '..', '..', 'browser', 'dist', 'index.js') };
    });
    b.onLoad({ filter: /[\\/]yaml[\\/]browser[\\/]dist[\\/]log\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes(CONSOLE_WARN)) throw new Error(`build: ${args.path} changed; see yamlModules`);
      const emit =
        "if (typeof process.emitWarning === 'function') process.emitWarning(warning); else console.warn(warning);";
      return { contents: text.replace(CONSOLE_WARN, emit), loader: 'js' };
    });
  },
};

rmSync(DIST, { recursive: true, force: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { 'cli/main': 'src/cli/main.ts' },
  outdir: DIST,
  entryNames: '[dir]/[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  // Node 20 has regular expressions with the v flag; left as literals, V8 compiles them on first use.
  supported: { 'regexp-set-notation': true },
  metafile: true,
  // Some bundled CommonJS requires Node's built-in modules: give each chunk a require.
  banner: {
    js: "import { createRequire as tendCreateRequire } from 'node:module';\nconst require = tendCreateRequire(import.meta.url);",
  },
  plugins: [oneStringWidth, noHelpCache, yamlModules],
  logLevel: 'warning',
});
const misplaced = Object.keys(result.metafile.outputs).filter((out) => !/^dist\/(cli|chunks)\/[^/]+$/.test(out));
if (misplaced.length > 0) throw new Error(`build: outputs must sit one folder below dist/: ${misplaced.join(', ')}`);
writeFileSync(path.join(DIST, 'meta.json'), `${JSON.stringify(result.metafile)}\n`);
