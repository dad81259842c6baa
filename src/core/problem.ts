// A problem found in a user's file. Every validator returns all of them at once (never throws
// at the first), so a user fixes a whole file in one go.

export interface Problem {
  /** Repository-relative path of the file at fault. */
  file: string;
  /** 1-based line in that file, when known. */
  line?: number;
  /** The frontmatter key or setting at fault, e.g. `priority` or `phases[2].timeout`. */
  key?: string;
  message: string;
  /** What the user can do about it. */
  fix?: string;
}

export function formatProblem(p: Problem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  const key = p.key ? `${p.key}: ` : '';
  const fix = p.fix ? ` (${p.fix})` : '';
  return `${where}: ${key}${p.message}${fix}`;
}

/** An operation that cannot go on; carries what to do about it and the underlying cause. */
export class TendError extends Error {
  constructor(
    message: string,
    readonly fix?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TendError';
  }
}
