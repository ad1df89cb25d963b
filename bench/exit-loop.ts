/**
 * One exit guest in a loop, for profiling the exit path (node --cpu-prof): runs
 * guests/bench/exits/REASON.asm with N iterations R times under the hypervisor and prints the ns
 * per iteration of each run, in wall time and in the main thread's CPU time (steadier on a machine
 * other work shares). Usage: node scripts/run-ts.mjs bench/exit-loop.ts [REASON] [N] [R] [--floor]
 *
 * --floor (a reason completed in place) measures what the processor's side of such an exit costs
 * alone: the hypervisor's fast-exit handler is replaced by one that only skips the instruction
 * (bench/exits.ts floorHandler), with no emulation, counting, timer or device work. The difference
 * from a normal run is the hypervisor's share; the floor is the least such an exit can cost here.
 */
import { buildGuest } from './build-guest.js';
import { exitGuestCmdline } from './exit-guests.js';
import { findExitGuests, floorHandler } from './exits.js';
import { runUnderHypervisor } from './hv-run.js';
import { mainThreadCpuNs, median } from './stats.js';

const args = process.argv.slice(2);
const floor = args.includes('--floor');
const [reason = 'cpuid', n = '200000', repeats = '5'] = args.filter((a) => a !== '--floor');
const g = findExitGuests([reason])[0]!;
if (floor && g.exitReason === null) throw new RangeError(`--floor needs a guest that exits (${reason} does not)`);
const image = buildGuest(g.source, {}, ['guests/lib', 'guests/bench/exits']);

const run = (k: number): [number, number] => {
  const c0 = mainThreadCpuNs();
  const wall = runUnderHypervisor([{ name: g.name, image, cmdline: exitGuestCmdline(k), memory: 8 << 20 }], floor ? { prepare: floorHandler(g.exitReason!) } : {}).nanoseconds;
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
const label = floor ? `${reason} (floor)` : reason;
process.stdout.write(`${label} ns per iteration, wall: ${show(wall)}\n${label} ns per iteration, CPU:  ${show(cpu)}\n`);
