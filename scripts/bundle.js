#!/usr/bin/env node
// Bundles what tsc built (dist/cli/main.js and everything it imports, node_modules included)
// into dist/tend.js and a few chunks that the commands load when they run. Node otherwise finds,
// reads and compiles a few hundred files on every start of `tend`; see "Start-up" in the README
// for the figures. The chunks sit in dist/ itself, beside assets.js, so paths that modules
// compute from import.meta.url (the package root) stay the same.
import { build } from 'esbuild';

await build({
  entryPoints: { tend: 'dist/cli/main.js' },
  outdir: process.argv[2] ?? 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'tend-[hash]',
  // remark is loaded with require() on first use (see item.ts): left to node_modules.
  external: ['remark'],
  logLevel: 'warning',
});
