/**
 * One exit guest in a loop, for profiling the exit path (node --cpu-prof): runs
 * guests/bench/exits/REASON.asm with N iterations R times under the hypervisor and prints the ns
 * per iteration of each run, in wall time and in the main thread's CPU time (steadier on a machine
 * other work shares). Usage: node scripts/run-ts.mjs bench/exit-loop.ts [REASON] [N] [R]
 */
import { buildGuest } from './build-guest.js';
import { exitGuestCmdline } from './exit-guests.js';
import { findExitGuests } from './exits.js';
import { runUnderHypervisor } from './hv-run.js';
import { mainThreadCpuNs, median } from './stats.js';

const [reason = 'cpuid', n = '200000', repeats = '5'] = process.argv.slice(2);
const g = findExitGuests([reason])[0]!;
const image = buildGuest(g.source, {}, ['guests/lib', 'guests/bench/exits']);
const run = (k: number): [number, number] => {
  const c0 = mainThreadCpuNs();
  const wall = runUnderHypervisor([{ name: g.name, image, cmdline: exitGuestCmdline(k), memory: 8 << 20 }]).nanoseconds;
  return [wall, mainThreadCpuNs() - c0];
};
run(1000);
const bases = [run(0), run(0), run(0)];
const base = [median(bases.map((b) => b[0])), median(bases.map((b) => b[1]))];
const wall: number[] = [], cpu: number[] = [];
for (let i = 0; i < Number(repeats); i++) {
  const [w, c] = run(Number(n));
  wall.push((w - base[0]!) / Number(n));
  cpu.push((c - base[1]!) / Number(n));
}
const show = (xs: number[]): string => `${xs.map((x) => x.toFixed(0)).join(' ')}; median ${median(xs).toFixed(0)}`;
process.stdout.write(`${reason} ns per iteration, wall: ${show(wall)}\n${reason} ns per iteration, CPU:  ${show(cpu)}\n`);
