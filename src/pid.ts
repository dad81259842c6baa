// Whether a process id is in use. Which process it is, this cannot tell: callers that must know
// check more (a lock's host, a record's age, a process's start time).
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
