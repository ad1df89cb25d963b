/** Builds a guest source into an image with trapvisor's own assembler, for the benchmarks. */
import { readFileSync } from 'node:fs';
import { assemble } from '../assembler/index.js';

export function buildGuest(source: string, defines: Record<string, string>): Uint8Array {
  return assemble(readFileSync(source, 'utf8'), { fileName: source, includePaths: ['guests/lib'], defines }).binary;
}
