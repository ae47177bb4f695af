// Timing shared by the edge benchmarks: every kind of request is sent once per round, in turn,
// so that each kind sees the same machine state and a slow stretch weighs on all of them.

/** The nanoseconds from sending `run()`'s request to the end of its body; a non-200 throws. */
export async function timed(run) {
  const start = process.hrtime.bigint();
  const res = await run();
  await res.arrayBuffer();
  const ns = Number(process.hrtime.bigint() - start);
  if (res.status !== 200) throw new Error(`status ${res.status}`);
  return ns;
}

/** Sends `rounds` rounds of `kinds` (name → request) without keeping their times. */
export async function warmUp(kinds, rounds) {
  for (let i = 0; i < rounds; i++) for (const run of Object.values(kinds)) await timed(run);
}

/** Sends `rounds` rounds of `kinds`; name → the time of each round's request, in order. */
export async function measure(kinds, rounds) {
  const samples = Object.fromEntries(Object.keys(kinds).map((name) => [name, []]));
  for (let i = 0; i < rounds; i++) {
    for (const [name, run] of Object.entries(kinds)) samples[name].push(await timed(run));
  }
  return samples;
}

/** The `q` quantile of `xs` (nearest rank). */
export function quantile(xs, q) {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Nanoseconds as milliseconds with three decimals. */
export const ms = (ns) => (ns / 1e6).toFixed(3);
