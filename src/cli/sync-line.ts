// Where the clone stands against its remote, in the words `tend status` and the live view share.
import type { SyncStatus } from '../edges/remote.js';

/** One line on where the clone stands against its remote: ahead since when, and why it could not push. */
export function syncLine(sync: SyncStatus, ahead: number): string {
  const upstream = `${sync.remote}/${sync.branch}`;
  if (sync.ahead === 0)
    return `sync: up to date with ${upstream}${sync.lastPush ? ` (last push ${localTime(sync.lastPush)})` : ''}`;
  const since = sync.aheadSince ? ` since ${localTime(sync.aheadSince)}` : '';
  const why = sync.lastError ? `; last try: ${sync.lastError}` : '; `tend sync` pushes them';
  return `sync: ${ahead} commit(s) not on ${upstream}${since}${why}`;
}

/** An ISO time as the person's local `YYYY-MM-DD HH:MM`. */
function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
