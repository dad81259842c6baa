// The defaults `tend init` installs ship inside the package, one copy: the same pipelines/,
// prompts/ and ORCHESTRATOR.md that tend's own repository uses.
import { fileURLToPath } from 'node:url';

/** The package root: two levels above src/edges/ (tests) or dist/edges/ (the built CLI). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
