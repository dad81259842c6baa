// Shared pieces of the config schemas and the translation of zod issues into Problems that
// name the file, the line and the key.
import * as z from 'zod';
import { parseDuration } from './duration.js';
import type { Problem } from './problem.js';

export const durationMs = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration such as 90s, 30m or 1h30m, found ${JSON.stringify(v)}`,
    });
    return z.NEVER;
  }
  return ms;
});

export const argv = z.union([z.string().min(1), z.array(z.string()).min(1)]);

/** Turn zod issues into Problems, each with the line of the value at fault (`lineAt` from readYaml). */
export function issuesToProblems(
  issues: readonly z.core.$ZodIssue[],
  file: string,
  lineAt: (path: readonly PropertyKey[]) => number | undefined,
  data: Record<string, unknown>,
): Problem[] {
  return issues.map((issue) => {
    const key = issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
      .join('.')
      .replace(/\.\[/g, '[');
    const found = valueAt(data, issue.path);
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`
        : issue.code === 'custom' || found === undefined
          ? issue.message
          : `${issue.message}, found ${JSON.stringify(found)}`;
    return { file, line: lineAt(issue.path), key: key || undefined, message };
  });
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

/** A path written in config must stay inside its folder: no absolute paths, no `..`. */
export function isContainedRelativePath(p: string): boolean {
  if (p === '' || p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:/.test(p)) return false;
  return p.split(/[\\/]/).every((part) => part !== '..' && part !== '');
}
