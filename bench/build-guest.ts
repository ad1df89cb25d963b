/** Builds a guest source into an image with trapvisor's own assembler, for the benchmarks. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assemble } from '../assembler/index.js';

/** The project root (where guests/ lives), from the sources or from the bundled CLI. */
export function benchRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'guests', 'lib')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** `source` and the include paths are relative to the project root. */
export function buildGuest(source: string, defines: Record<string, string>, includePaths: string[] = ['guests/lib']): Uint8Array {
  const root = benchRoot();
  const at = (p: string): string => (isAbsolute(p) ? p : join(root, p));
  return assemble(readFileSync(at(source), 'utf8'), { fileName: source, includePaths: includePaths.map(at), defines }).binary;
}
