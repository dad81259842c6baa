// Finding a program on PATH without running it (doctor must not start a paid agent).
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

export function findExecutable(command: string, cwd: string, envPath = process.env.PATH ?? ''): string | undefined {
  const candidates = command.includes('/')
    ? [path.resolve(cwd, command)]
    : envPath
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, command));
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}
