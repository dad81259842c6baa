import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // vitest's default on 2 cores is one worker; the tests mostly wait on git and tend processes, and two
    // workers took the suite from 1,024 s to 720 s on a 2-core machine that was busy with other work.
    maxWorkers: 2,
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ['default', ['json', { outputFile: 'coverage/test-report.json' }]],
  },
});
