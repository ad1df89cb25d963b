/**
 * Garbage in, diagnostics out: random token soup and mutated corpus lines must never make the
 * assembler throw anything but an AssemblyError, and never report an internal error.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble, AssemblyError } from '../../assembler/index.js';

/** A small deterministic PRNG (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'mov', 'add', 'jmp', 'jz', 'push', 'pop', 'lea', 'imul', 'shl', 'out', 'in', 'rep', 'lock', 'movsb', 'o16', 'a32', 'es',
  'eax', 'ax', 'al', 'ebx', 'esp', 'ebp', 'cs', 'ds', 'cr0', 'dr7', 'bx', 'si', 'bp',
  '[', ']', ',', ':', '+', '-', '*', '/', '%', '<<', '>>', '(', ')', '~', '!', '?', '$', '$$', '==', '&&',
  '0', '1', '0x7F', '0xFFFFFFFF', '99999999999999999999999', '1Fh', '0b2', '12q', '0x', "'a'", '"str"', '`esc\\n`', "'open",
  'byte', 'word', 'dword', 'qword', 'far', 'near', 'short', 'strict', 'nosplit',
  'db', 'dw', 'dd', 'dq', 'resb', 'times', 'equ', 'align', 'alignb', 'org', 'bits', '16', '32', '64', 'section', '.data', '.bss',
  'incbin', 'label:', '.local:', '..@x:', 'x', 'y', ';comment', '\\',
  '%define', '%macro', '%endmacro', '%rep', '%endrep', '%if', '%else', '%endif', '%include', '%assign', '%1', '%0', '%%l',
  '%error', '%exitrep', '%rotate', '%ifdef', '%elif', '%undef', '%xdefine', '{', '}', '%+',
];

function assembleQuietly(source: string): void {
  try {
    assemble(source, { fileName: 'fuzz.asm', readFile: () => undefined, readBinary: () => undefined });
  } catch (e) {
    if (!(e instanceof AssemblyError)) throw e;
    const internal = e.diagnostics.find((d) => d.message.startsWith('internal error'));
    expect(internal?.message, source).toBeUndefined();
  }
}

describe('assembler fuzz', () => {
  it('survives random token soup', () => {
    const rnd = prng(0x7ea5);
    for (let n = 0; n < 1500; n++) {
      const lines: string[] = [];
      const count = 1 + Math.floor(rnd() * 6);
      for (let l = 0; l < count; l++) {
        const len = Math.floor(rnd() * 8);
        const words: string[] = [];
        for (let w = 0; w < len; w++) words.push(PIECES[Math.floor(rnd() * PIECES.length)]!);
        lines.push(words.join(rnd() < 0.8 ? ' ' : ''));
      }
      assembleQuietly(lines.join('\n'));
    }
  });

  it('survives mutated corpus lines', () => {
    const rnd = prng(0xc0de);
    const corpus = ['test/golden/corpus/bits32-move.asm', 'test/golden/tricky/macros.asm', 'test/golden/tricky/labels.asm']
      .flatMap((f) => readFileSync(f, 'utf8').split('\n'));
    for (let n = 0; n < 1500; n++) {
      const picked: string[] = [];
      for (let k = 0; k < 4; k++) {
        let line = corpus[Math.floor(rnd() * corpus.length)]!;
        const at = Math.floor(rnd() * (line.length + 1));
        const op = rnd();
        if (op < 0.33) line = line.slice(0, at) + line.slice(at + 1);
        else if (op < 0.66) line = line.slice(0, at) + PIECES[Math.floor(rnd() * PIECES.length)] + line.slice(at);
        else line = line.slice(0, at);
        picked.push(line);
      }
      assembleQuietly(picked.join('\n'));
    }
  });

  it('survives raw random bytes', () => {
    const rnd = prng(42);
    for (let n = 0; n < 300; n++) {
      const chars = Array.from({ length: 1 + Math.floor(rnd() * 80) }, () => String.fromCharCode(Math.floor(rnd() * 128)));
      assembleQuietly(chars.join(''));
    }
  });
});
