/**
 * The engines a compute workload runs on: trapvisor's two CPU tiers on the bare CPU, v86 (the npm
 * package, loaded with its Multiboot option and no BIOS) with its JIT off and on, and
 * qemu-system-i386 (TCG) where it is installed. Each run returns the guest's instruction count,
 * the wall time and the final EAX (-1 where the engine cannot report it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { Cpu } from '../emulator/cpu/cpu.js';
import { enterFlatProtectedMode } from '../emulator/cpu/segments.js';
import { MULTIBOOT_BOOTLOADER_MAGIC, parseMultiboot } from '../hypervisor/loader/multiboot.js';

export interface EngineRun {
  instructions: number;
  nanoseconds: number;
  eax: number;
}

export interface Engine {
  name: string;
  /** `modelInstructions`: the workload's exact count, for engines that cannot count themselves. */
  run(image: Uint8Array, modelInstructions: number): Promise<EngineRun>;
}

/** trapvisor's CPU, bare: the image loaded as a Multiboot loader would, run until HLT. */
export function trapvisorEngine(tier: 'blocks' | 'interpret'): Engine {
  return {
    name: tier === 'blocks' ? 'trapvisor' : 'trapvisor-interp',
    async run(bytes) {
      const image = parseMultiboot(bytes);
      const cpu = new Cpu({ ramSize: 16 << 20 });
      cpu.engine = tier;
      enterFlatProtectedMode(cpu);
      for (const s of image.segments) cpu.mem.load(s.address, s.data);
      cpu.eip = image.entry;
      cpu.r[0] = MULTIBOOT_BOOTLOADER_MAGIC | 0;
      const t0 = process.hrtime.bigint();
      const stop = cpu.run(Number.MAX_SAFE_INTEGER);
      const ns = Number(process.hrtime.bigint() - t0);
      if (stop.kind !== 'halted') throw new Error(`workload stopped with ${stop.kind}, not HLT`);
      return { instructions: cpu.icount, nanoseconds: ns, eax: cpu.r[0]! >>> 0 };
    },
  };
}

/**
 * The v86 side, run in a worker thread of its own: each v86 run allocates large WebAssembly
 * memories, and in trapvisor's heap their collection slowed the trapvisor runs measured beside
 * them by 10-25 %. CommonJS, evaluated by the Worker; the parent ref()s it only while a run is out.
 */
const V86_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
let V86 = null;
parentPort.on('message', async ({ id, buffer }) => {
  try {
    V86 ??= (await import(pathToFileURL(workerData.module).href)).V86;
    const t0 = process.hrtime.bigint();
    const emu = new V86({
      wasm_path: workerData.wasm, multiboot: { buffer }, autostart: true,
      disable_jit: !workerData.jit, memory_size: 16 << 20, disable_keyboard: true, disable_mouse: true,
    });
    let done = false;
    const finish = (reply) => { done = true; Promise.resolve(emu.stop()).then(() => emu.destroy()).finally(() => parentPort.postMessage({ id, ...reply })); };
    const timer = setTimeout(() => finish({ error: 'v86 did not finish within 120 s' }), 120000);
    emu.add_listener('serial0-output-byte', () => {
      if (done) return;
      const nanoseconds = Number(process.hrtime.bigint() - t0);
      clearTimeout(timer);
      // The counter is read right after the OUT; the remaining CLI and HLT are added back.
      finish({ instructions: emu.get_instruction_counter() + 2, nanoseconds, eax: emu.v86.cpu.reg32[0] >>> 0 });
    });
  } catch (e) {
    parentPort.postMessage({ id, error: String((e && e.stack) || e) });
  }
});
`;

/** The v86 package's entry and wasm, or null when it is not installed (a devDependency). */
export function v86Files(): { module: string; wasm: string } | null {
  try {
    const require = createRequire(import.meta.url);
    return { module: require.resolve('v86'), wasm: join(dirname(require.resolve('v86/package.json')), 'build', 'v86.wasm') };
  } catch {
    return null;
  }
}

/** v86 with its x86-to-wasm JIT on or off. The workload's byte on COM1 marks its end. */
export function v86Engine(jit: boolean): Engine {
  let worker: Worker | null = null;
  let next = 0;
  const pending = new Map<number, { resolve: (r: EngineRun) => void; reject: (e: Error) => void }>();
  const start = (): Worker => {
    const files = v86Files();
    if (!files) throw new Error('v86 is not installed (npm install --include=dev)');
    const w = new Worker(V86_WORKER, { eval: true, workerData: { ...files, jit } });
    w.on('message', (m: { id: number; error?: string } & EngineRun) => {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (pending.size === 0) w.unref();
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve({ instructions: m.instructions, nanoseconds: m.nanoseconds, eax: m.eax });
    });
    w.on('error', (e) => { for (const p of pending.values()) p.reject(e); pending.clear(); worker = null; });
    w.unref();
    return w;
  };
  return {
    name: jit ? 'v86-jit' : 'v86-interp',
    run(bytes) {
      worker ??= start();
      const id = next++;
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      return new Promise<EngineRun>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker!.ref(); // keeps the process alive until the reply
        worker!.postMessage({ id, buffer }, [buffer as ArrayBuffer]);
      });
    },
  };
}

/** The QEMU binary `bench peers` runs ($QEMU, else qemu-system-i386 on the PATH). */
export const QEMU = process.env.QEMU ?? 'qemu-system-i386';

/** Is QEMU installed (it answers --version)? */
export function qemuAvailable(): boolean {
  return spawnSync(QEMU, ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * qemu-system-i386 with its TCG JIT, booting the image with -kernel (QEMU's own Multiboot loader,
 * no firmware beyond its BIOS). The workload's byte on COM1 marks its end; the process is then
 * killed. QEMU reports neither an instruction count nor registers: the count is the workload's
 * model, EAX is -1. Wall time runs from spawn to that byte, so the subtracted
 * minimal run removes QEMU's start-up along with the guest's.
 */
export function qemuEngine(): Engine {
  return {
    name: 'qemu-tcg',
    run(bytes, modelInstructions) {
      const dir = mkdtempSync(join(tmpdir(), 'tv-qemu-'));
      const image = join(dir, 'workload.img');
      writeFileSync(image, bytes);
      return new Promise<EngineRun>((resolve, reject) => {
        const t0 = process.hrtime.bigint();
        const qemu = spawn(QEMU, ['-kernel', image, '-accel', 'tcg', '-m', '16', '-display', 'none', '-serial', 'stdio',
          '-monitor', 'none', '-no-reboot', '-nodefaults'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let done = false, stderr = '';
        const finish = (f: () => void): void => { if (done) return; done = true; clearTimeout(timer); qemu.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); f(); };
        const timer = setTimeout(() => finish(() => reject(new Error('qemu did not finish within 120 s'))), 120_000);
        qemu.stdout.on('data', (chunk: Buffer) => {
          if (!chunk.includes(0x44)) return; // 'D', BENCH_DONE
          const ns = Number(process.hrtime.bigint() - t0);
          finish(() => resolve({ instructions: modelInstructions, nanoseconds: ns, eax: -1 }));
        });
        qemu.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
        qemu.on('error', (e) => finish(() => reject(e)));
        qemu.on('exit', (code) => finish(() => reject(new Error(`qemu exited (${code}) before the workload finished: ${stderr.trim()}`))));
      });
    },
  };
}
