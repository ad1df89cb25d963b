import { describe, expect, it } from 'vitest';
import { EXIT_TIMING_SAMPLE, EXIT_TIMING_SAMPLE_LATE, isTimed, timingWeight } from '../../hypervisor/hypervisor.js';

describe('exit timing samples', () => {
  it('every sample stands for exactly its weight: the weights up to any stretch boundary sum to the count', () => {
    let sum = 0;
    for (let n = 0; n < 40000; n++) {
      // Before the nth exit, the samples so far stand for the n exits before it, at each boundary.
      if (n === 256 || n === 16384 || (n > 16384 && n % EXIT_TIMING_SAMPLE_LATE === 0)) expect(sum).toBe(n);
      sum += timingWeight(n);
    }
    expect(timingWeight(255)).toBe(1);
    expect(timingWeight(256)).toBe(EXIT_TIMING_SAMPLE);
    expect(timingWeight(16384)).toBe(EXIT_TIMING_SAMPLE_LATE);
    expect(timingWeight(16384 + EXIT_TIMING_SAMPLE)).toBe(0);
  });

  it('the inline path asks the same question in fewer bytes (isTimed)', () => {
    for (let n = 0; n < 70000; n++) expect(isTimed(n)).toBe(timingWeight(n) !== 0);
  });
});
