import { describe, expect, it } from 'vitest';
import { entryTimingWeight, EXIT_TIMING_ALL, EXIT_TIMING_LATE_FROM, EXIT_TIMING_SAMPLE, EXIT_TIMING_SAMPLE_LATE, timingWeight, untimedAhead } from '../../hypervisor/hypervisor.js';

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

  it('the inline path counts down the exits before the next timed one (untimedAhead)', () => {
    // From the end down: the run of untimed exits starting at each n.
    const N = 70000;
    let run = 0;
    const ahead: number[] = [];
    for (let n = N + EXIT_TIMING_SAMPLE_LATE; n >= 0; n--) {
      run = timingWeight(n) === 0 ? run + 1 : 0;
      if (n < N) ahead[n] = run;
    }
    for (let n = 0; n < N; n++) if (untimedAhead(n) !== ahead[n]) expect(untimedAhead(n), `n = ${n}`).toBe(ahead[n]);
    expect(untimedAhead(EXIT_TIMING_ALL + 1)).toBe(EXIT_TIMING_SAMPLE - 1);
  });
});
