/**
 * Random instruction bytes through the real CPU: every case must either execute or raise a guest
 * exception (delivered through the harness IDT). A JavaScript error escaping `step()` is a bug; an
 * EmulatorLimitation is one too, except the documented task-switch and VMX-operation limitations.
 */
import { describe, expect, it } from 'vitest';
import { SegReg, loadSegmentRealMode } from '../../emulator/cpu/segments.js';
import { EmulatorLimitation } from '../../emulator/cpu/tasks.js';
import { CODE_BASE, DATA_BASE, Machine } from './harness.js';

/** mulberry32: a small seeded PRNG, so failures reproduce. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PREFIXES = [0x66, 0x67, 0xf3, 0xf2, 0xf0, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];
const CASES = 100_000;

function randomBytes(rand: () => number): number[] {
  const bytes: number[] = [];
  const byte = (): number => Math.floor(rand() * 256);
  if (rand() < 0.3) bytes.push(PREFIXES[Math.floor(rand() * PREFIXES.length)]!);
  if (rand() < 0.35) bytes.push(0x0f);
  while (bytes.length < 16) bytes.push(byte());
  return bytes;
}

describe('fuzz: random instruction bytes', () => {
  it(`executes or faults on ${CASES} random byte strings, in both code sizes`, () => {
    const rand = prng(0x7a11);
    const m = new Machine({ engine: 'interpret' });
    const c = m.cpu;
    const failures: string[] = [];
    const counts = { executed: 0, faulted: 0 };
    for (let i = 0; i < CASES && failures.length < 20; i++) {
      m.reset();
      const bytes = randomBytes(rand);
      const realMode = rand() < 0.15;
      if (realMode) {
        c.reset();
        for (const s of [SegReg.DS, SegReg.ES, SegReg.SS, SegReg.FS, SegReg.GS]) loadSegmentRealMode(c, s, 0x2000);
        loadSegmentRealMode(c, SegReg.CS, CODE_BASE >>> 4);
        c.eip = 0;
        c.r[4] = 0xfff0;
      }
      // Registers near the data area (small counts keep REP strings short), sometimes anything.
      for (let r = 0; r < 8; r++) {
        if (r === 4) continue;
        c.r[r] = rand() < 0.8 ? (realMode ? Math.floor(rand() * 0x100) : DATA_BASE + Math.floor(rand() * 0x1000)) : Math.floor(rand() * 2 ** 32) | 0;
      }
      c.r[1] = Math.floor(rand() * 64);
      c.eflags = 0x2 | (Math.floor(rand() * 0x1000) & 0xcd5);
      m.poke(realMode ? CODE_BASE : c.eip, bytes);
      c.flushDecodeCache();
      const before = c.icount;
      try {
        c.step();
        if (c.icount > before) counts.executed++; else counts.faulted++;
      } catch (e) {
        const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        if (e instanceof EmulatorLimitation && /task switch|VMX operation/i.test(msg)) continue;
        failures.push(`${realMode ? 'real' : 'pm32'} ${bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')}: ${msg}`);
      }
    }
    expect(failures).toEqual([]);
    expect(counts.executed + counts.faulted).toBeGreaterThan(CASES * 0.99);
  });

  it('runs random byte sequences through the compiled-block tier', () => {
    const rand = prng(0xb10c);
    const m = new Machine({ engine: 'blocks' });
    const c = m.cpu;
    const failures: string[] = [];
    for (let i = 0; i < 10_000 && failures.length < 20; i++) {
      m.reset();
      const bytes = [...randomBytes(rand), ...randomBytes(rand), ...randomBytes(rand)];
      for (let r = 0; r < 8; r++) if (r !== 4) c.r[r] = DATA_BASE + Math.floor(rand() * 0x1000);
      c.r[1] = Math.floor(rand() * 64);
      m.poke(c.eip, bytes);
      c.flushDecodeCache();
      try {
        c.run(64);
      } catch (e) {
        const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        if (e instanceof EmulatorLimitation && /task switch|VMX operation/i.test(msg)) continue;
        failures.push(`${bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')}: ${msg}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
