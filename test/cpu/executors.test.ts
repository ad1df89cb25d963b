/** Every row of the instruction table that the decoder can yield has an executor. */
import { describe, expect, it } from 'vitest';
import { FORMS } from '../../emulator/isa/index.js';
import { EXECUTORS, UNIMPLEMENTED_OPS } from '../../emulator/cpu/exec/index.js';

describe('executors', () => {
  it('leaves no table op unimplemented', () => {
    expect(UNIMPLEMENTED_OPS).toEqual([]);
  });
  it('has one executor per row', () => {
    expect(EXECUTORS.length).toBe(FORMS.length);
    for (const f of FORMS) if (!f.asmOnly) expect(typeof EXECUTORS[f.id], f.source).toBe('function');
  });
});
