/**
 * `trapvisor bench ...` in --quick mode: every command runs and produces a well-formed table, JSON
 * and SVG, with exact instruction counts checked against the emulator's own counter. No test here
 * asserts a time: the machine running the suite decides those.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGuest } from '../../bench/build-guest.js';
import { measureDecoder } from '../../bench/decoder.js';
import { qemuAvailable } from '../../bench/engines.js';
import { EXIT_GUESTS, exitGuestInstructions } from '../../bench/exit-guests.js';
import type { ExitsResult } from '../../bench/exits.js';
import type { FvPvResult } from '../../bench/fv-pv.js';
import { expectExit, exitsOf, runUnderHypervisor } from '../../bench/hv-run.js';
import type { MipsResult } from '../../bench/mips-hv.js';
import type { PeersResult } from '../../bench/peers.js';
import type { ScaleResult } from '../../bench/scale.js';
import { jainIndex, median } from '../../bench/stats.js';
import { barChartSvg } from '../../bench/svg.js';
import { MIPS_WORKLOADS } from '../../bench/workloads.js';
import { runBench, runCompare, type BenchOptions } from '../../hypervisor/cli/bench.js';
import { UserError } from '../../hypervisor/cli/errors.js';
import { ExitCode } from '../../hypervisor/cli/exit-codes.js';

const dir = mkdtempSync(join(tmpdir(), 'tv-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bench(which: string, opts: BenchOptions = {}) {
  const o = { stdout: '', stderr: '' };
  const json = join(dir, `${which}.json`), chart = join(dir, `${which}.svg`);
  const code = await runBench(which, { quick: true, json, chart, ...opts }, { stdout: (t) => { o.stdout += t; }, stderr: (t) => { o.stderr += t; } });
  return { code, ...o, json: JSON.parse(readFileSync(json, 'utf8')) as unknown, svg: readFileSync(chart, 'utf8') };
}

function expectTable(text: string, rows: number): void {
  const lines = text.split('\n').filter((l) => l.startsWith('|'));
  expect(lines.length).toBe(rows + 2);
  const cells = lines[0]!.split('|').length;
  for (const l of lines) expect(l.split('|').length).toBe(cells);
  expect(lines[1]).toMatch(/^\|[ \-:|]+\|$/);
}

function expectSvg(svg: string, bars: number): void {
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  expect(svg.match(/<rect x=/g)?.length).toBe(bars);
}

describe('the VM-exit guests', () => {
  it('execute exactly the modelled instruction count and one exit of their reason per iteration', () => {
    for (const g of EXIT_GUESTS) {
      const image = buildGuest(g.source, {}, ['guests/lib', 'guests/bench/exits']);
      for (const n of [0, 1, 9, 100]) {
        const run = runUnderHypervisor([{ name: g.name, image, cmdline: String(n) }]);
        const s = run.guests[0]!;
        expectExit(s);
        const model = exitGuestInstructions(g, n);
        if (model !== null) expect(s.instructions, `${g.name} x ${n}`).toBe(model);
        if (g.exitReason !== null && g.name !== 'irq') expect(exitsOf(s, g.exitReason).count - (g.name.startsWith('io') ? 1 : 0), `${g.name} x ${n}`).toBe(n);
        if (g.exitReason === null) expect(Object.keys(s.exits)).toEqual(['IO_INSTRUCTION']);
      }
    }
  });
});

describe('trapvisor bench (--quick)', () => {
  it('exits: one row per reason, exact counts, JSON and chart', async () => {
    const r = await bench('exits');
    expect(r.code).toBe(ExitCode.OK);
    const j = r.json as ExitsResult;
    expect(j.kind).toBe('exits');
    expect(j.rows.map((x) => x.reason)).toEqual(EXIT_GUESTS.map((g) => g.name));
    for (const row of j.rows) {
      if (row.modelInstructions !== null) expect(row.instructions).toBe(row.modelInstructions);
      expect(row.exitsPerIteration).toBe(row.reason === 'pf' ? 0 : 1);
      expect(row.iterationNsRepeats.length).toBeGreaterThan(0);
      for (const k of ['iterationNs', 'exitNs', 'aluEquivalents', 'transitionNs', 'handlerNs', 'runLoopNs'] as const) expect(Number.isFinite(row[k])).toBe(true);
      expect(row.inPlace).toBeGreaterThanOrEqual(0);
      expect(row.inPlace).toBeLessThanOrEqual(1);
    }
    // The exit fast path: CPUID, port I/O, VMCALL and the MSR read complete in place nearly always
    // (not when an exit ends a slice); a TSC write, HLT, CR, MMIO, exceptions and interrupts never do.
    const inPlace = (reason: string) => j.rows.find((x) => x.reason === reason)!.inPlace;
    for (const reason of ['cpuid', 'io-in', 'io-out', 'io-portb', 'io-eoi', 'vmcall', 'msr']) {
      expect(inPlace(reason), reason).toBeGreaterThan(0.9);
      // ... and are measured again with it off (the run asserts that none completed in place then),
      // and with a handler that only skips (the run asserts that none reached the hypervisor): the
      // split is by difference, exit+entry the floor and the handler the rest of the round trip.
      const row = j.rows.find((x) => x.reason === reason)!;
      expect(row.fullRoundTripNs, reason).toEqual(expect.any(Number));
      expect(row.floorNs, reason).toEqual(expect.any(Number));
      expect(row.transitionNs + row.handlerNs, reason).toBeCloseTo(row.exitNs, 6);
      expect(row.runLoopNs, reason).toBe(0);
    }
    for (const reason of ['wrmsr', 'hlt', 'cr', 'mmio', 'exception', 'irq']) {
      expect(inPlace(reason), reason).toBe(0);
      expect(j.rows.find((x) => x.reason === reason)!.floorNs, reason).toBeNull();
    }
    for (const g of EXIT_GUESTS) if (g.perIteration !== null) expect(j.rows.find((x) => x.reason === g.name)!.instructionsPerIteration).toBe(g.perIteration);
    expectTable(r.stdout, EXIT_GUESTS.length);
    // (A --quick measurement can be too short to measure: "-".)
    expect(r.stdout).toMatch(/ALU workload: [\d.]+ ns per instruction .*the faster of ([\d.]+|-) before and ([\d.]+|-) after the exits/);
    // The ALU speed is measured before the reasons and after them; the rows are reckoned in the faster.
    expect(j.aluNsSamples).toHaveLength(2);
    expect(j.aluNsPerInstruction).toBe(Math.min(...j.aluNsSamples!.filter((x) => x !== null && x > 0)));
    expect(r.stderr).toContain('cpuid: ');
    // One bar per positive figure: the total, and each part of the split on its own (timing noise
    // can clamp the total, and with it the run loop, to 0 while the other parts are measured).
    const split = j.rows.filter((x) => x.exitsPerIteration > 0);
    expectSvg(r.svg, j.rows.filter((x) => x.exitNs > 0).length
      + (['transitionNs', 'handlerNs', 'runLoopNs'] as const).reduce((n, k) => n + split.filter((x) => x[k] > 0).length, 0)
      + j.rows.filter((x) => (x.fullRoundTripNs ?? 0) > 0).length);
  });

  it('exits --reason picks reasons; an unknown one is a usage error', async () => {
    const r = await bench('exits', { reason: 'vmcall,mmio' });
    expect((r.json as ExitsResult).rows.map((x) => x.reason)).toEqual(['vmcall', 'mmio']);
    await expect(runBench('exits', { quick: true, reason: 'nope' }, { stdout: () => {}, stderr: () => {} }))
      .rejects.toMatchObject({ exitCode: ExitCode.USAGE, message: expect.stringContaining("unknown exit reason 'nope'") });
  });

  it('mips: every workload on the bare CPU and under the hypervisor, the same exact counts', async () => {
    const r = await bench('mips');
    const j = r.json as MipsResult;
    expect(j.rows.map((x) => `${x.workload}/${x.engine}`)).toEqual(MIPS_WORKLOADS.flatMap((w) => [`${w.name}/trapvisor`, `${w.name}/trapvisor-hv`]));
    for (const w of MIPS_WORKLOADS) {
      const [bare, hv] = j.rows.filter((x) => x.workload === w.name);
      expect(bare!.instructions).toBe(hv!.instructions);
      expect(bare!.instructions).toBeGreaterThan(0);
    }
    expect(j.rows.find((x) => x.workload === 'paging')!.instructions).toBe(j.rows.find((x) => x.workload === 'mem')!.instructions);
    // The second estimate: each engine's best repeat, hv over bare (one repeat each with --quick).
    // A repeat too short to measure on a busy host gives NaN (null in the JSON), and so does the
    // estimate then.
    for (const ratio of j.ratios) {
      const [bare, hv] = j.rows.filter((x) => x.workload === ratio.workload);
      const [h, b] = [hv!.cpuMipsByRepeat[0]!, bare!.cpuMipsByRepeat[0]!];
      const measured = (x: number) => Number.isFinite(x) && x > 0;
      if (measured(h) && measured(b)) expect(ratio.bestHvOverBare, `${h} / ${b}`).toBeCloseTo(h / b, 9);
      else expect(ratio.bestHvOverBare ?? NaN, `${h} / ${b}`).toBeNaN();
    }
    expectTable(r.stdout, MIPS_WORKLOADS.length);
    expectSvg(r.svg, j.rows.filter((x) => x.mips > 0).length); // null: a run too short to measure
  });

  it('peers: trapvisor\'s tiers and v86 side by side', async () => {
    const r = await bench('peers', { workloads: 'alu' });
    const j = r.json as PeersResult;
    expect(j.rows.map((x) => x.engine)).toEqual(['trapvisor', 'trapvisor-interp', 'v86-interp', 'v86-jit', ...(qemuAvailable() ? ['qemu-tcg'] : [])]);
    expect(new Set(j.rows.map((x) => x.instructions)).size).toBe(1);
    expectTable(r.stdout, 1);
  });

  it('fv-pv: both builds of the kernel, exits per reason adding up', async () => {
    const r = await bench('fv-pv');
    const j = r.json as FvPvResult;
    expect(j.rows.map((x) => x.build)).toEqual(['FV', 'PV']);
    for (const x of j.rows) {
      expect(x.status).toBe(1); // isa-debug-exit / SHUTDOWN with 0: the CLI's exit code 1
      expect(Object.values(x.exitsByReason).reduce((a, b) => a + b, 0)).toBe(x.exits);
    }
    const [fv, pv] = j.rows;
    expect(fv!.exitsByReason.IO_INSTRUCTION).toBeGreaterThan(1000);
    expect(pv!.exitsByReason.VMCALL).toBeGreaterThan(0);
    expect(pv!.exits).toBeLessThan(fv!.exits / 10);
    // The FV kernel's port I/O nearly all completes in place; the PV kernel's blocking calls cannot.
    expect(fv!.inPlace).toBeGreaterThan(fv!.exitsByReason.IO_INSTRUCTION! * 0.9);
    // The FV kernel's UART output (polled, a THR write and LSR reads per byte) goes inline.
    expect(fv!.inline).toBeGreaterThan(fv!.exitsByReason.IO_INSTRUCTION! * 0.5);
    expect(fv!.inline).toBeLessThanOrEqual(fv!.inPlace);
    expect(pv!.inPlace).toBeLessThan(pv!.exits);
    expectTable(r.stdout, 2);
  });

  it('scale: shares add up to the instruction budget exactly, Jain\'s index in (0, 1]', async () => {
    const r = await bench('scale');
    const j = r.json as ScaleResult;
    expect(j.rows.map((x) => x.guests)).toEqual([1, 2, 4, 8]);
    for (const x of j.rows) {
      expect(x.instructions).toBe(j.rows[0]!.instructions);
      expect(x.jain).toBeGreaterThan(0);
      expect(x.jain).toBeLessThanOrEqual(1);
      expect(x.minShare).toBeLessThanOrEqual(x.maxShare);
    }
    expect(j.rows[3]!.switches).toBeGreaterThanOrEqual(8);
    expectTable(r.stdout, 4);
    expectSvg(r.svg, 4);
  });

  it('compare: two results side by side; different kinds refused', async () => {
    const a = join(dir, 'a.json'), b = join(dir, 'b.json');
    const base = { kind: 'exits', rows: [{ reason: 'cpuid', exitNs: 1000 }, { reason: 'hlt', exitNs: 2000 }] };
    writeFileSync(a, JSON.stringify(base));
    writeFileSync(b, JSON.stringify({ ...base, rows: [{ reason: 'cpuid', exitNs: 500 }, { reason: 'hlt', exitNs: 2010 }] }));
    let out = '';
    expect(runCompare(a, b, { stdout: (t) => { out += t; }, stderr: () => {} })).toBe(ExitCode.OK);
    expectTable(out, 2);
    expect(out).toMatch(/cpuid .*-50\.0% \| better/);
    expect(out).toMatch(/hlt .*\+0\.5% \| same/);
    writeFileSync(b, JSON.stringify({ kind: 'scale', rows: [] }));
    expect(() => runCompare(a, b, { stdout: () => {}, stderr: () => {} })).toThrow(UserError);
  });

  it('compare: bench mips results also set their paired hv / bare ratios side by side', async () => {
    const a = join(dir, 'ma.json'), b = join(dir, 'mb.json');
    const mips = (alu: number, ratio: number) => ({
      kind: 'mips', rows: [{ workload: 'alu', engine: 'trapvisor', mips: alu }], ratios: [{ workload: 'alu', hvOverBare: ratio }],
    });
    writeFileSync(a, JSON.stringify(mips(1000, 0.95)));
    writeFileSync(b, JSON.stringify(mips(1000, 0.99)));
    let out = '';
    expect(runCompare(a, b, { stdout: (t) => { out += t; }, stderr: () => {} })).toBe(ExitCode.OK);
    expectTable(out, 2);
    expect(out).toMatch(/alu +\| hv \/ bare +\| +0\.950 \| +0\.990 \| +\+4\.2% \| same/);
  });
});

describe('decoder benchmark', () => {
  it('decodes the golden corpus and kernel-like code, the disassembler finding the same instructions', () => {
    const [corpus, kernelLike] = measureDecoder(1, 1);
    expect(corpus!.instructions).toBeGreaterThan(40_000); // every form of the table, 16- and 32-bit
    expect(kernelLike!.instructions).toBeGreaterThan(5_000);
    for (const row of [corpus!, kernelLike!]) {
      expect(row.disassembledLines).toBe(row.instructions);
      expect(row.decodePerSecond).toBeGreaterThan(0);
    }
  });
});

describe('bar charts', () => {
  it('draw one bar per positive value and none for null, zero or negative ones', () => {
    const svg = barChartSvg({ title: 'a < b', unit: 'ns', categories: ['x', 'y'], series: [{ name: 's', values: [1, null] }, { name: 't', values: [0, -1] }, { name: 'u', values: [2, 3] }] });
    expectSvg(svg, 3);
    expect(svg).toContain('a &lt; b');
  });
});

describe('bench statistics', () => {
  it('median and Jain\'s index', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(jainIndex([1, 1, 1, 1])).toBe(1);
    expect(jainIndex([1, 0, 0, 0])).toBe(0.25);
  });
});
