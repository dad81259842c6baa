// Reading an agent's output: a provider's rate or usage limit and when it resets, JSON event
// lines, and the numbers in them. Pure.
import type { UsageLimit } from './types.js';

// Specific phrases only: an agent whose tests merely mention rate limiting must still fail, so
// a bare "status 429" or "Too Many Requests" (test output of a rate limiter) is not enough.
// Claude Code: "You've hit your (session )?limit · resets 5pm", "5-hour limit reached ∙ resets
// 5am", "API Error: Request rejected (429)", "Error: 429 {...rate_limit_error...}"; codex:
// "You've hit your usage limit", "last status: 429 Too Many Requests".
const LIMIT_TEXT =
  /hit your (?:[\w-]+ ){0,2}limit\b|usage limit (?:reached|exceeded|hit)|limit reached\s*[·∙•]\s*resets|rate limit (?:reached|exceeded)|quota exceeded|rate_limit_error|\(429\)|API Error:? 429|(?:last|unexpected) status:? 429/i;

/** A usage limit described in `text`, or undefined. `now` anchors "resets 5pm". */
export function usageLimitIn(text: string, now: Date): UsageLimit | undefined {
  const match = LIMIT_TEXT.exec(text);
  if (!match) return undefined;
  const line = text.slice(Math.max(0, text.lastIndexOf('\n', match.index) + 1)).split('\n')[0] ?? match[0];
  return { message: line.trim().slice(0, 300), resetsAt: resetTime(text, now) };
}

/** "resets 5pm", "resets at 17:30", "try again in 20 minutes" -> a Date; else undefined. */
export function resetTime(text: string, now: Date): Date | undefined {
  const clock = /resets?(?: at)?\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?/i.exec(text);
  if (clock) {
    let hour = Number(clock[1]);
    const minute = Number(clock[2] ?? 0);
    const meridiem = clock[3]?.toLowerCase();
    if (meridiem === 'pm' && hour < 12) hour += 12;
    if (meridiem === 'am' && hour === 12) hour = 0;
    if (hour > 23 || minute > 59) return undefined;
    const at = new Date(now);
    at.setHours(hour, minute, 0, 0);
    if (at.getTime() <= now.getTime()) at.setDate(at.getDate() + 1);
    return at;
  }
  const relative = /(?:in|after)\s+(\d+)\s*(seconds?|minutes?|mins?|hours?|hrs?)/i.exec(text);
  if (relative) {
    const n = Number(relative[1]);
    const unit = relative[2]?.toLowerCase() ?? '';
    const ms = unit.startsWith('s') ? 1000 : unit.startsWith('h') ? 3_600_000 : 60_000;
    return new Date(now.getTime() + n * ms);
  }
  return undefined;
}

/** Parse each line of `text` as JSON, skipping lines that are not objects. */
export function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      const value: unknown = JSON.parse(trimmed);
      if (value && typeof value === 'object' && !Array.isArray(value)) out.push(value as Record<string, unknown>);
    } catch {
      // Not JSON: progress text mixed into the stream.
    }
  }
  return out;
}

/** A finite number, or undefined for anything else (a missing field, a string, NaN). */
export function finiteNumber(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * Above this, a reported cost for one agent run is taken for garbage rather than dollars: summed
 * into an item's cost_usd it would reach Infinity and make the item unreadable.
 */
const MOST_PLAUSIBLE_USD = 1_000_000;

/** A dollar figure an agent reported, or undefined (cost unknown) for a negative or absurd one. */
export function dollars(v: unknown): number | undefined {
  const n = finiteNumber(v);
  return n !== undefined && n >= 0 && n <= MOST_PLAUSIBLE_USD ? n : undefined;
}
