#!/usr/bin/env node
// Bench agent: sleeps, then writes its artifact. BENCH_SLEEP_MS gives one duration;
// BENCH_PHASE_MS (JSON: phase -> ms) gives one per phase, spread per item by a fixed hash so
// runs are comparable. Each run appends "<id> <phase> <lens> <ms>" to $BENCH_STATE/agents.log.
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const { TEND_ARTIFACT: artifact, TEND_PHASE: phase, TEND_LENS: lens = '', TEND_ITEM: id } = process.env;

function spread(key) {
  let h = 0;
  for (const c of key) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 0.5 + (h % 1000) / 1000; // 0.5x .. 1.5x
}

const perPhase = process.env.BENCH_PHASE_MS ? JSON.parse(process.env.BENCH_PHASE_MS) : undefined;
const ms = perPhase
  ? Math.round((perPhase[phase] ?? 100) * spread(`${id}/${phase}/${lens}`))
  : Number(process.env.BENCH_SLEEP_MS ?? 1000);
await new Promise((resolve) => setTimeout(resolve, ms));
const verdict = phase === 'review' || lens ? '---\nverdict: approve\n---\n' : '';
writeFileSync(artifact, `${verdict}# ${phase}${lens ? ` (${lens})` : ''}\n\nBench output after ${ms} ms.\n`);
if (process.env.BENCH_STATE)
  appendFileSync(path.join(process.env.BENCH_STATE, 'agents.log'), `${id} ${phase} ${lens || '-'} ${ms}\n`);
