// `tend init`: set up a repository with the default settings, pipelines and prompts, and commit
// them. What it writes, and how it commits only what it wrote, is src/engine/setup.ts.
export { init, type InitResult } from '../../engine/setup.js';
