// A scripted history with fixed dates: real `tend` commands and commits made as a person (or a
// script) makes them, each at the time given, so `tend log` and `tend report` figures are exact.
import { execa } from 'execa';
import { cleanEnv, tend } from './repo.js';

/** git's author and committer dates, both `iso`. */
export function at(iso: string): Record<string, string> {
  return { GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso };
}

/** `tend args` with its commits dated `iso`; must exit 0. */
export async function tendAt(root: string, iso: string, args: string[]): Promise<void> {
  const result = await tend(root, args, { env: at(iso) });
  if (result.exitCode !== 0) throw new Error(`expected exit 0 from ${result.report}`);
}

/** A commit as a person (or a script) makes it: `git commit -m subject -m trailers`, at `iso` or now. */
export async function commit(root: string, iso: string | undefined, subject: string, ...paragraphs: string[]) {
  const env = cleanEnv(iso ? at(iso) : {});
  const messages = [subject, ...paragraphs].flatMap((m) => ['-m', m]);
  await execa('git', ['commit', '--quiet', '--allow-empty', ...messages], { cwd: root, env, extendEnv: false });
}
