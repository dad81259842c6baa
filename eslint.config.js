import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The layout's house rules (README, "Source layout"): each folder may import only what is
// listed for it, and only the writer commits. ESLint keeps one `no-restricted-imports` setting
// per file, so every folder's list also carries the rule about the commit function.
const ONLY_THE_WRITER_COMMITS = {
  group: ['**/git.js'],
  importNames: ['commitPaths'],
  message: 'only src/engine/writer.ts commits: carry the change out through the writer',
};
const IO_NAMES = ['fs', 'fs/promises', 'child_process', 'net', 'os', 'http', 'https', 'worker_threads', 'readline'];
const IO_MODULES = [...IO_NAMES.flatMap((name) => [name, `node:${name}`]), 'chokidar', 'execa', 'yargs'].map(
  (name) => ({ name, message: 'src/core/ is pure: file system, processes and the network belong in src/edges/' }),
);

/** Imports from these folders, at any depth (`../engine/x.js`, `../../engine/x.js`). */
const folders = (...names) => names.map((f) => `**/${f}/*`);

function restrict(files, patterns, { paths = [], ignores = [], writerRule = true } = {}) {
  const all = writerRule ? [ONLY_THE_WRITER_COMMITS, ...patterns] : patterns;
  return { files, ignores, rules: { 'no-restricted-imports': ['error', { paths, patterns: all }] } };
}
const ENGINE_RULES = [{ group: folders('cli', 'board'), message: 'the engine does not know the CLI or the board' }];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.tend/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The board's page script runs in the browser.
    files: ['web/**/*.js'],
    languageOptions: {
      globals: {
        document: 'readonly',
        location: 'readonly',
        fetch: 'readonly',
        prompt: 'readonly',
        FormData: 'readonly',
        EventSource: 'readonly',
      },
    },
  },
  restrict(['src/**/*.ts'], []),
  restrict(
    ['src/core/**/*.ts'],
    [
      {
        group: folders('edges', 'engine', 'cli', 'agents', 'board'),
        message: 'src/core/ imports only src/core/: it is the pure model, loaded by every command',
      },
    ],
    { paths: IO_MODULES },
  ),
  {
    // A dynamic import() escapes no-restricted-imports; the pure core has no use for one.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', { selector: 'ImportExpression', message: 'src/core/ loads nothing lazily' }],
    },
  },
  restrict(
    ['src/agents/**/*.ts'],
    [
      { group: ['**/git.js'], message: 'an agent module never runs git: the engine records what agents did' },
      { group: folders('engine', 'cli'), message: 'agents are an edge: they do not know the engine or the CLI' },
    ],
  ),
  restrict(
    ['src/edges/**/*.ts'],
    [
      {
        group: folders('engine', 'cli', 'agents', 'board'),
        message: 'src/edges/ is below the agents, the engine, the CLI and the board',
      },
    ],
  ),
  restrict(
    ['src/edges/watcher.ts'],
    [
      {
        group: folders('engine', 'cli', 'agents'),
        message: 'the watcher only reports paths: it knows neither agents nor the engine',
      },
    ],
  ),
  restrict(
    ['src/cli/**/*.ts'],
    [
      {
        group: ['**/journal.js', '**/git.js', '**/writer.js'],
        message: 'commands act through the engine (src/engine/actions.ts), never on git or the journal',
      },
    ],
  ),
  restrict(
    ['src/board/**/*.ts'],
    [
      {
        group: ['**/journal.js', '**/writer.js'],
        message: 'the board acts through the engine (src/engine/actions.ts), never on the journal or the writer',
      },
      { group: folders('agents'), message: 'the board shows what runs leave on disk; it starts no agent' },
    ],
  ),
  restrict(['src/engine/**/*.ts'], ENGINE_RULES),
  // The writer follows the engine's rules; it alone may call commitPaths.
  restrict(['src/engine/writer.ts'], ENGINE_RULES, { writerRule: false }),
  {
    files: ['src/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }],
      'max-len': ['error', { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true }],
    },
  },
);
