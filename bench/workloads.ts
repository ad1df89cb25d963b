/**
 * The compute workloads (guests/bench/*.asm) and the exact number of instructions each executes,
 * computed from a model of its loops, so a benchmark's instruction count is known by construction
 * and can be checked against the emulator's own counter.
 */

export interface Workload {
  name: 'alu' | 'mem' | 'paging' | 'branchy' | 'call';
  description: string;
  source: string;
  /** Preprocessor defines for a run of size `n`. */
  defines: (n: number) => Record<string, string>;
  /** Exact dynamic instruction count for size `n` (HLT included). */
  instructions: (n: number) => number;
  /** Size used for measurement, and the small size whose run is subtracted (start-up). */
  size: number;
  baselineSize: number;
}

const BENCH_DONE_INSTRUCTIONS = 5;

function fibInstructions(n: number): number {
  const t: number[] = [4, 4];
  for (let i = 2; i <= n; i++) t[i] = 11 + t[i - 1]! + t[i - 2]!;
  return 2 + t[n]! + BENCH_DONE_INSTRUCTIONS;
}

const SIEVE_SIZE = 0x100000;
let sieveRoundCache = 0;
function sieveRoundInstructions(): number {
  if (sieveRoundCache) return sieveRoundCache;
  const composite = new Uint8Array(SIEVE_SIZE);
  let n = 3 + 4 * (SIEVE_SIZE / 4) + 2;
  for (let b = 2; b < SIEVE_SIZE; b++) {
    n += 2;
    if (!composite[b]) {
      n += 3;
      for (let m = 2 * b; m < SIEVE_SIZE; m += b) { composite[m] = 1; n += 5; }
      n += 2;
    }
    n += 3;
  }
  sieveRoundCache = n + 2;
  return sieveRoundCache;
}

function crcInstructions(len: number): number {
  let crc = 0xffffffff, n = 2;
  for (let i = 0; i < len; i++) {
    crc = (crc ^ (Math.imul(i, 0x9e3779b1) & 0xff)) >>> 0;
    n += 4;
    for (let bit = 0; bit < 8; bit++) {
      const carry = crc & 1;
      crc >>>= 1;
      n += 2;
      if (carry) { crc = (crc ^ 0xedb88320) >>> 0; n += 1; }
      n += 2;
    }
    n += 3;
  }
  return n + 1 + BENCH_DONE_INSTRUCTIONS;
}

/** The CRC-32 value branchy leaves in EAX (for checking that engines computed the same thing). */
export function crcResult(len: number): number {
  let crc = 0xffffffff;
  for (let i = 0; i < len; i++) {
    crc = (crc ^ (Math.imul(i, 0x9e3779b1) & 0xff)) >>> 0;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? ((crc >>> 1) ^ 0xedb88320) >>> 0 : crc >>> 1;
  }
  return ~crc >>> 0;
}

export const WORKLOADS: readonly Workload[] = [
  {
    name: 'alu', description: 'tight register ALU loop', source: 'guests/bench/alu.asm',
    defines: (n) => ({ ITER: String(n) }), instructions: (n) => 4 + 6 * n + BENCH_DONE_INSTRUCTIONS,
    size: 20_000_000, baselineSize: 1,
  },
  {
    name: 'mem', description: 'sieve of Eratosthenes over 1 MiB', source: 'guests/bench/mem.asm',
    defines: (n) => ({ ROUNDS: String(n) }), instructions: (n) => 1 + n * sieveRoundInstructions() + BENCH_DONE_INSTRUCTIONS,
    size: 4, baselineSize: 1,
  },
  {
    name: 'branchy', description: 'bitwise CRC-32, a data-dependent branch per bit', source: 'guests/bench/branchy.asm',
    defines: (n) => ({ LEN: String(n) }), instructions: crcInstructions,
    size: 400_000, baselineSize: 1,
  },
  {
    name: 'call', description: 'recursive Fibonacci, call/ret heavy', source: 'guests/bench/call.asm',
    defines: (n) => ({ N: String(n) }), instructions: fibInstructions,
    size: 30, baselineSize: 2,
  },
];

/** Instructions the paging setup of mem.asm adds (PAGING defined): 3 + 5 * 1024 + 6. */
const PAGING_SETUP_INSTRUCTIONS = 5129;

/** "paging": mem with 32-bit paging on, 4 KiB pages (not in WORKLOADS: the demo runs those). */
export const PAGING_WORKLOAD: Workload = {
  name: 'paging', description: 'the mem sieve with 4 KiB paging on', source: 'guests/bench/mem.asm',
  defines: (n) => ({ ROUNDS: String(n), PAGING: '1' }),
  instructions: (n) => PAGING_SETUP_INSTRUCTIONS + 1 + n * sieveRoundInstructions() + BENCH_DONE_INSTRUCTIONS,
  size: 4, baselineSize: 1,
};

/** The workloads of `trapvisor bench mips` and `bench peers`, in table order. */
export const MIPS_WORKLOADS: readonly Workload[] = [WORKLOADS[0]!, WORKLOADS[1]!, PAGING_WORKLOAD, WORKLOADS[2]!, WORKLOADS[3]!];
