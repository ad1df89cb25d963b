/**
 * CPUID: the processor's own leaves (emulator/cpu/exec/cpuid.ts), filtered the way KVM filters
 * them: VMX hidden (no nested virtualization), the hypervisor-present bit set, and the hypervisor
 * leaves 0x40000000 (highest leaf and signature) and 0x40000001 (PV features) answered.
 */
import { cpuidLeaf, CPUID_1_ECX } from '../../emulator/cpu/exec/cpuid.js';
import { HYPERVISOR_CPUID_BASE, HYPERVISOR_CPUID_FEATURES, HYPERVISOR_SIGNATURE, PvFeature } from '../abi.js';
import type { ExitAction, ExitContext } from './context.js';

const HYPERVISOR_PRESENT = 1 << 31;

const signature = (i: number): number => {
  const s = HYPERVISOR_SIGNATURE;
  return (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24)) | 0;
};

/**
 * The four registers a guest sees for `leaf`, as EAX, EBX, ECX, EDX (the answers never change:
 * each is made once and must not be written). An Int32Array, not a frozen array: V8 (Node 20)
 * reads a frozen array's elements some ten times slower, and this is on the exit fast path.
 */
export function guestCpuid(leaf: number): Int32Array {
  if ((leaf | 0) === last.leaf) return last.answer;
  leaf >>>= 0;
  let answer = answers.get(leaf);
  if (answer === undefined) {
    if (answers.size >= 4096) answers.clear(); // a guest sweeping every leaf
    answer = Int32Array.from(computeGuestCpuid(leaf));
    answers.set(leaf, answer);
  }
  last.leaf = leaf | 0;
  last.answer = answer;
  return answer;
}
const answers = new Map<number, Int32Array>();
/**
 * The leaf asked last, as EAX holds it (a loop of CPUIDs asks one leaf over and over), and its
 * answer; NaN matches no leaf. Read by `answerCpuid` before it calls guestCpuid, so that the
 * inline exit's path stays small enough for V8 to inline it whole into a compiled block.
 */
const last: { leaf: number; answer: Int32Array } = { leaf: NaN, answer: new Int32Array(4) };

function computeGuestCpuid(leaf: number): [number, number, number, number] {
  if (leaf === HYPERVISOR_CPUID_BASE) return [HYPERVISOR_CPUID_FEATURES, signature(0), signature(4), signature(8)];
  if (leaf === HYPERVISOR_CPUID_FEATURES) return [Object.values(PvFeature).reduce((a, b) => a | b, 0), 0, 0, 0];
  if (leaf > HYPERVISOR_CPUID_FEATURES && leaf <= 0x400000ff) return [0, 0, 0, 0];
  const [a, b, c, d] = cpuidLeaf(leaf);
  if (leaf === 1) return [a, b, (c & ~CPUID_1_ECX.VMX) | HYPERVISOR_PRESENT, d];
  return [a, b, c, d];
}

/** CPUID on a register file (EAX..EDI): the leaf in EAX, the answer in EAX, EBX, ECX, EDX. */
export function answerCpuid(r: Int32Array): void {
  const leaf = r[0]!;
  const answer = leaf === last.leaf ? last.answer : guestCpuid(leaf);
  r[0] = answer[0]; r[3] = answer[1]; r[1] = answer[2]; r[2] = answer[3];
}

export function handleCpuid(ctx: ExitContext): ExitAction {
  answerCpuid(ctx.vcpu.regs);
  ctx.vcpu.skipInstruction();
  return 'resume';
}
