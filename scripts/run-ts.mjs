// Runs a TypeScript script without a separate TS runtime: bundles it with esbuild to a temporary
// file and imports it. Usage: node scripts/run-ts.mjs path/to/script.ts [args...]
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [script, ...args] = process.argv.slice(2);
if (!script) {
  console.error('usage: node scripts/run-ts.mjs SCRIPT.ts [args...]');
  process.exit(2);
}
// Bundle inside the repository so the script's bare imports resolve from node_modules.
const cache = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.cache');
mkdirSync(cache, { recursive: true });
const dir = mkdtempSync(join(cache, 'run-ts-'));
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
