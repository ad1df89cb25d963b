/**
 * Golden parity with NASM 2.16.01: every file of test/golden/corpus (generated from the instruction
 * table) and test/golden/tricky (hand-written) must assemble to exactly NASM's bytes. The .bin
 * files were written by NASM (`npm run golden`); this test does not need NASM.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FORMS } from '../../emulator/isa/index.js';
import { assemble, type AssembleResult } from '../../assembler/index.js';

const CORPUS = 'test/golden/corpus';
const TRICKY = 'test/golden/tricky';

const asmFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.asm')).sort();

/** Names the first source line whose bytes differ, so a failure says what to look at. */
function firstDifference(result: AssembleResult, expected: Uint8Array, source: string): string {
  const ours = result.binary;
  let i = 0;
  while (i < ours.length && i < expected.length && ours[i] === expected[i]) i++;
  if (i === ours.length && i === expected.length) return 'identical';
  const address = result.origin + i;
  const entry = [...result.symbols.lines].reverse().find((l) => l.address <= address);
  const text = entry ? source.split('\n')[entry.line - 1] : '?';
  const hex = (b: Uint8Array) => Buffer.from(b.subarray(i, i + 8)).toString('hex');
  return `offset ${i} (line ${entry?.line}: ${text?.trim()}): ours ${hex(ours)}, nasm ${hex(expected)}; sizes ${ours.length} vs ${expected.length}`;
}

function check(dir: string, file: string, includePaths: string[]): AssembleResult {
  const path = join(dir, file);
  const source = readFileSync(path, 'utf8');
  const expected = new Uint8Array(readFileSync(path.replace(/\.asm$/, '.bin')));
  const result = assemble(source, { fileName: path, includePaths });
  const same = result.binary.length === expected.length && result.binary.every((b, k) => b === expected[k]);
  expect(same, `${path}: ${firstDifference(result, expected, source)}`).toBe(true);
  return result;
}

describe('golden corpus generated from the table', () => {
  const used = new Set<number>();
  const files = asmFiles(CORPUS);

  it('has the generated files', () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  for (const file of files) {
    it(`${file} is byte-identical to NASM`, () => {
      for (const id of check(CORPUS, file, []).formsUsed) used.add(id);
    });
  }

  it('exercises every assemblable row of the table', () => {
    const missing = FORMS.filter((f) => !f.decodeOnly && !used.has(f.id)).map((f) => f.source);
    expect(missing).toEqual([]);
  });
});

describe('golden hand-written cases', () => {
  for (const file of asmFiles(TRICKY)) {
    it(`${file} is byte-identical to NASM`, () => {
      check(TRICKY, file, [join(TRICKY, 'inc')]);
    });
  }
});
