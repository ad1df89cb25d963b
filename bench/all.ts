/**
 * `npm run bench`: every benchmark in full, one after the other (tables on stdout, progress on
 * stderr), each result written to bench/results/KIND-TIMESTAMP.json with its SVG chart beside it,
 * then the assembler benchmark. `--quick` for a shortened run.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runBench } from '../hypervisor/cli/bench.js';
import { benchRoot } from './build-guest.js';

const quick = process.argv.includes('--quick');
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const results = join(benchRoot(), 'bench', 'results');
mkdirSync(results, { recursive: true });
for (const which of ['exits', 'mips', 'peers', 'fv-pv', 'scale']) {
  process.stdout.write(`\n## bench ${which}\n\n`);
  await runBench(which, { quick, json: join(results, `${which}-${stamp}.json`), chart: join(results, `${which}-${stamp}.svg`) }, {
    stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t),
  });
}
process.exit(0);
