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

interface V86Emulator {
  add_listener(event: string, f: (v: number) => void): void;
  get_instruction_counter(): number;
  stop(): Promise<void> | void;
  destroy(): Promise<void> | void;
  v86: { cpu: { reg32: Int32Array } };
}

/** v86 with its x86-to-wasm JIT on or off. The workload's byte on COM1 marks its end. */
export function v86Engine(jit: boolean): Engine {
  return {
    name: jit ? 'v86-jit' : 'v86-interp',
    async run(bytes) {
      const require = createRequire(import.meta.url);
      const pkgDir = dirname(require.resolve('v86/package.json'));
      // A computed specifier: the bundled CLI loads v86 (a devDependency) only when it is installed.
      const v86Module = 'v86';
      const { V86 } = (await import(v86Module)) as unknown as { V86: new (o: object) => V86Emulator };
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      return new Promise<EngineRun>((resolve, reject) => {
        const t0 = process.hrtime.bigint();
        const emu = new V86({
          wasm_path: join(pkgDir, 'build', 'v86.wasm'), multiboot: { buffer }, autostart: true,
          disable_jit: !jit, memory_size: 16 << 20, disable_keyboard: true, disable_mouse: true,
        });
        const timer = setTimeout(() => { void emu.destroy(); reject(new Error('v86 did not finish within 120 s')); }, 120_000);
        emu.add_listener('serial0-output-byte', () => {
          const ns = Number(process.hrtime.bigint() - t0);
          clearTimeout(timer);
          // The counter is read right after the OUT; the remaining CLI and HLT are added back.
          const instructions = emu.get_instruction_counter() + 2;
          const eax = emu.v86.cpu.reg32[0]! >>> 0;
          void Promise.resolve(emu.stop()).then(() => emu.destroy());
          resolve({ instructions, nanoseconds: ns, eax });
        });
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
