// Bundles the CLI into one file (dist/trapvisor.mjs). Run by `npm install` (prepare) and `npm run build`.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

await build({
  entryPoints: ['hypervisor/cli/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outfile: 'dist/trapvisor.mjs',
  banner: { js: '#!/usr/bin/env node\nimport { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
  sourcemap: 'linked',
  logLevel: 'warning',
});
chmodSync('dist/trapvisor.mjs', 0o755);
