/**
 * `trapvisor bench ...`: the benchmarks of bench/ behind one command. Each subcommand prints a
 * table on stdout (progress on stderr), and takes --json FILE (the raw figures), --chart FILE.svg
 * (bars) and --quick (a shortened run for CI smoke tests). `bench compare A.json B.json` sets two
 * results side by side.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { compareResults } from '../../bench/compare.js';
import { exitsChart, formatExits, measureExits } from '../../bench/exits.js';
import { formatFvPv, fvPvChart, measureFvPv } from '../../bench/fv-pv.js';
import { formatMipsBareVsHv, measureMipsBareVsHv, mipsChart } from '../../bench/mips-hv.js';
import { formatPeers, measurePeers } from '../../bench/peers.js';
import { formatScale, measureScale, scaleChart } from '../../bench/scale.js';
import { barChartSvg, type BarChart } from '../../bench/svg.js';
import { ExitCode } from './exit-codes.js';
import { runAction, UserError } from './errors.js';

export interface BenchOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export interface BenchOptions {
  quick?: boolean;
  json?: string;
  chart?: string;
  reason?: string;
  workloads?: string;
}

type Result = { kind: string } & object;

function list(text: string | undefined): string[] | undefined {
  return text === undefined ? undefined : text.split(',').map((s) => s.trim()).filter(Boolean);
}

function finish(result: Result, table: string, chart: BarChart, opts: BenchOptions, out: BenchOutput): number {
  out.stdout(table);
  if (opts.json) { writeFileSync(opts.json, JSON.stringify(result, null, 2) + '\n'); out.stderr(`wrote ${opts.json}\n`); }
  if (opts.chart) { writeFileSync(opts.chart, barChartSvg(chart)); out.stderr(`wrote ${opts.chart}\n`); }
  return ExitCode.OK;
}

/** Runs one benchmark subcommand; returns the exit code (RangeError: a bad --reason/--workloads). */
export async function runBench(which: string, opts: BenchOptions, out: BenchOutput): Promise<number> {
  const quick = opts.quick ?? false;
  const progress = (line: string): void => out.stderr(`  ${line}\n`);
  try {
    switch (which) {
      case 'exits': {
        const r = await measureExits({ quick, reasons: list(opts.reason), progress });
        return finish(r, formatExits(r), exitsChart(r), opts, out);
      }
      case 'mips': {
        const r = await measureMipsBareVsHv({ quick, workloads: list(opts.workloads), progress });
        return finish(r, formatMipsBareVsHv(r), mipsChart(r), opts, out);
      }
      case 'peers': {
        const r = await measurePeers({ quick, workloads: list(opts.workloads), progress });
        return finish(r, formatPeers(r), mipsChart({ kind: 'mips', node: r.node, quick, rows: r.rows }), opts, out);
      }
      case 'fv-pv': {
        const r = measureFvPv({ quick, progress });
        return finish(r, formatFvPv(r), fvPvChart(r), opts, out);
      }
      case 'scale': {
        const r = measureScale({ quick, progress });
        return finish(r, formatScale(r), scaleChart(r), opts, out);
      }
      default:
        throw new UserError(`bench: unknown benchmark '${which}'`, ExitCode.USAGE);
    }
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(`bench ${which}: ${e.message}`, ExitCode.USAGE);
    throw e;
  }
}

export function runCompare(a: string, b: string, out: BenchOutput): number {
  const load = (file: string): { kind?: string } => {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (e) { throw new UserError(`bench compare: cannot read ${file}: ${(e as Error).message}`, ExitCode.BAD_INPUT); }
    try { return JSON.parse(text) as { kind?: string }; } catch { throw new UserError(`bench compare: ${file} is not JSON`, ExitCode.BAD_INPUT); }
  };
  try {
    out.stdout(compareResults(load(a), load(b)));
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(`bench compare: ${e.message}`, ExitCode.BAD_INPUT);
    throw e;
  }
  return ExitCode.OK;
}

const processOutput: BenchOutput = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks: VM exits, guest MIPS, peers, FV vs PV, scaling');
  const common = (c: Command): Command => c
    .option('--quick', 'a shortened run (CI smoke test)')
    .option('--json <file>', 'write the raw figures as JSON')
    .option('--chart <file>', 'draw the figures as an SVG bar chart')
    .exitOverride((err) => {
      const done = err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version';
      process.exit(done ? ExitCode.OK : ExitCode.USAGE);
    });
  const sub = (name: string, description: string, extra?: (c: Command) => Command): void => {
    let c = common(bench.command(name).description(description));
    if (extra) c = extra(c);
    c.action(runAction(async (opts: BenchOptions) => runBench(name, opts, processOutput)));
  };
  sub('exits', 'VM-exit round trips per reason, kvm-unit-tests vmexit style',
    (c) => c.option('--reason <list>', 'cpuid,vmcall,io-in,io-out,io-portb,io-eoi,cr,msr,wrmsr,hlt,mmio,pf,exception,irq (default: all)'));
  sub('mips', 'guest MIPS of the compute workloads on the bare CPU and under the hypervisor',
    (c) => c.option('--workloads <list>', 'alu,mem,paging,branchy,call (default: all)'));
  sub('peers', 'the compute workloads on trapvisor\'s two tiers and on v86 (JIT off and on)',
    (c) => c.option('--workloads <list>', 'alu,mem,paging,branchy,call (default: all)'));
  sub('fv-pv', 'the kernel, full-virtualized and paravirtualized: exits and time');
  sub('scale', '1 to 64 guests of the ALU workload: aggregate MIPS, shares, fairness');
  bench.command('compare')
    .description('two JSON results of the same benchmark side by side')
    .argument('<a>', 'the earlier result (JSON)')
    .argument('<b>', 'the later result (JSON)')
    .action(runAction(async (a: string, b: string) => runCompare(a, b, processOutput)));
}
