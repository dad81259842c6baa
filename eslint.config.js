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
const IO_MODULES = [
  'node:fs',
  'node:fs/promises',
  'node:child_process',
  'node:net',
  'node:os',
  'node:http',
  'node:https',
  'node:worker_threads',
  'node:readline',
  'chokidar',
  'execa',
  'yargs',
].map((name) => ({ name, message: 'src/core/ is pure: file system, processes and the network belong in src/edges/' }));

function restrict(files, patterns, paths = [], ignores = []) {
  return {
    files,
    ignores,
    rules: { 'no-restricted-imports': ['error', { paths, patterns: [ONLY_THE_WRITER_COMMITS, ...patterns] }] },
  };
}
const outOfCore = (folders) => ({
  group: folders.map((f) => `../${f}/*`),
  message: 'src/core/ imports only src/core/: it is the pure model, loaded by every command',
});

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
  restrict(['src/**/*.ts'], [], [], ['src/engine/writer.ts']),
  restrict(['src/core/**/*.ts'], [outOfCore(['edges', 'engine', 'cli', 'agents'])], IO_MODULES),
  restrict(
    ['src/agents/**/*.ts'],
    [
      { group: ['**/git.js'], message: 'an agent module never runs git: the engine records what agents did' },
      { group: ['../engine/*', '../cli/*'], message: 'agents are an edge: they do not know the engine or the CLI' },
    ],
  ),
  restrict(
    ['src/edges/**/*.ts'],
    [{ group: ['../engine/*', '../cli/*'], message: 'src/edges/ is below the engine and the CLI' }],
  ),
  restrict(
    ['src/edges/watcher.ts'],
    [
      {
        group: ['../engine/*', '../cli/*', '../agents/*'],
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
    ['src/engine/**/*.ts'],
    [{ group: ['../cli/*'], message: 'the engine does not know the CLI' }],
    [],
    ['src/engine/writer.ts'],
  ),
  {
    files: ['src/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }],
      'max-len': ['error', { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true }],
    },
  },
);
