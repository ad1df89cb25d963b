import { describe, expect, it } from 'vitest';
import { buildGuest } from '../../bench/build-guest.js';
import { EXIT_GUESTS, exitGuestCmdline } from '../../bench/exit-guests.js';
import { exitsOf, runUnderHypervisor } from '../../bench/hv-run.js';
import { ExitReason } from '../../emulator/vmx/controls.js';
import { entryTimingWeight, EXIT_COST, EXIT_TIMING_ALL, EXIT_TIMING_LATE_FROM, EXIT_TIMING_SAMPLE, EXIT_TIMING_SAMPLE_LATE, timingWeight } from '../../hypervisor/hypervisor.js';

describe('exit timing samples', () => {
  it('every sample stands for exactly its weight: the weights up to any stretch boundary sum to the count', () => {
    let sum = 0;
    for (let n = 0; n < 40000; n++) {
      // Before the nth exit, the samples so far stand for the n exits before it, at each boundary.
      if (n === EXIT_TIMING_ALL || n === EXIT_TIMING_LATE_FROM || (n > EXIT_TIMING_LATE_FROM && n % EXIT_TIMING_SAMPLE_LATE === 0)) expect(sum).toBe(n);
      sum += timingWeight(n);
    }
    expect(timingWeight(EXIT_TIMING_ALL - 1)).toBe(1);
    expect(timingWeight(EXIT_TIMING_ALL)).toBe(EXIT_TIMING_SAMPLE);
    expect(timingWeight(EXIT_TIMING_LATE_FROM)).toBe(EXIT_TIMING_SAMPLE_LATE);
    expect(timingWeight(EXIT_TIMING_LATE_FROM + EXIT_TIMING_SAMPLE)).toBe(0);
  });

  it('entries stay at one in 64 past the late stretch', () => {
    let sum = 0;
    for (let n = 0; n < 40000; n++) {
      if (n >= EXIT_TIMING_ALL && n % EXIT_TIMING_SAMPLE === 0) expect(sum).toBe(n);
      sum += entryTimingWeight(n);
    }
    expect(entryTimingWeight(EXIT_TIMING_LATE_FROM + EXIT_TIMING_SAMPLE)).toBe(EXIT_TIMING_SAMPLE);
  });

});

describe('exits completed inline are never timed', () => {
  const loops = [['cpuid', ExitReason.CPUID], ['vmcall', ExitReason.VMCALL], ['io-in', ExitReason.IO_INSTRUCTION], ['io-out', ExitReason.IO_INSTRUCTION]] as const;
  for (const [name, reason] of loops) {
    it(`a loop of 100,000 of ${name}'s exits leaves the inline path only where the hypervisor sees an exit anyway`, () => {
      const g = EXIT_GUESTS.find((x) => x.name === name)!;
      const image = buildGuest(g.source, {}, ['guests/lib', 'guests/bench/exits']);
      const run = runUnderHypervisor([{ name, image, cmdline: exitGuestCmdline(100_000), memory: 8 << 20 }]);
      const s = exitsOf(run.guests[0]!, reason);
      // The port I/O guests end by writing isa-debug-exit: one port access more, never inline.
      expect(s.count).toBe(reason === ExitReason.IO_INSTRUCTION ? 100_001 : 100_000);
      // Not completed inline: the first exit of each slice (the fast exit that arms the rest) and
      // the one that finds the slice over. Every exit is charged EXIT_COST, so 100,000 of them fill
      // some 50 slices of 1,000,000. Timed samples taken off the inline path would add 256 + 252 +
      // 81 more (one in 1,024 alone, 97).
      const slices = Math.ceil((run.guests[0]!.instructions + s.count * EXIT_COST) / 1_000_000);
      expect(s.count - s.inline).toBeGreaterThan(0);
      expect(s.count - s.inline).toBeLessThanOrEqual(2 * slices + 1);
      expect(s.handlerNs).toBeGreaterThan(0); // the ones the hypervisor saw were timed
    });
  }
});
