// Runs a TypeScript script without a separate TS runtime: bundles it with esbuild to a temporary
// file and imports it. Usage: node scripts/run-ts.mjs path/to/script.ts [args...]
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [script, ...args] = process.argv.slice(2);
if (!script) {
  console.error('usage: node scripts/run-ts.mjs SCRIPT.ts [args...]');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'trapvisor-run-'));
const out = join(dir, 'script.mjs');
await build({
  entryPoints: [resolve(script)], bundle: true, platform: 'node', target: 'node20', format: 'esm',
  outfile: out, packages: 'external', logLevel: 'warning', sourcemap: 'inline',
});
process.argv = [process.argv[0], resolve(script), ...args];
try {
  await import(pathToFileURL(out).href);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
