/**
 * Live migration between two trapvisor processes over TCP on loopback: `trapvisor migrate --listen
 * PORT` and `trapvisor boot IMAGE --migrate-to 127.0.0.1:PORT --after N`. The two consoles
 * together equal an unmigrated run; a connection cut mid-transfer leaves the source running; a
 * destination fed garbage refuses it and runs nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../hypervisor/cli/exit-codes.js';
import { runVms } from '../hypervisor/cli/run.js';
import { captureIo, CLI, freePort, startCli } from './cli-processes.js';

const GUEST = join(__dirname, 'hypervisor', 'multi', 'dirty.asm');
beforeAll(() => { execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'build.mjs')]); });

const startDestination = (port: number) => startCli(['migrate', '--listen', String(port)], 'waiting for a migration');

const OPTS = { mem: '8M', cmdline: '', engine: 'blocks', include: [] };

describe('trapvisor migrate over TCP', () => {
  it('moves a running guest to another process, whose console continues exactly', async () => {
    const whole = spawnSync(process.execPath, [CLI, 'boot', GUEST, '--mem', '8M'], { encoding: 'latin1' });
    expect(whole.status).toBe(1);
    const port = await freePort();
    const dst = startDestination(port);
    await dst.ready;
    const { o, io } = captureIo();
    const code = await runVms([GUEST], { ...OPTS, migrateTo: `127.0.0.1:${port}`, after: '300000' }, io);
    expect(code).toBe(ExitCode.OK);
    expect(o.stderr).toMatch(/migration done\n {2}rounds \d+, pages per round \d+/);
    expect(o.stderr).toMatch(/downtime [\d.]+ ms \(\d+ guest instructions\)/);
    expect(await dst.exited).toBe(1);
    expect(o.stdout + dst.out()).toBe(whole.stdout);
  });

  it('keeps the guest running at the source when the connection is cut mid-transfer', async () => {
    const server = createServer((socket) => { socket.once('data', () => socket.destroy()); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const whole = spawnSync(process.execPath, [CLI, 'boot', GUEST, '--mem', '8M'], { encoding: 'latin1' });
    const { o, io } = captureIo();
    const code = await runVms([GUEST], { ...OPTS, migrateTo: `127.0.0.1:${port}`, after: '300000' }, io);
    server.close();
    expect(o.stderr).toMatch(/migration failed: /);
    expect(o.stderr).toMatch(/the guest keeps running here/);
    expect(code).toBe(1);
    expect(o.stdout).toBe(whole.stdout);
  });

  it('after a failed migration the guest runs only what is left of --max-instructions', async () => {
    const port = await freePort(); // nothing listens there
    const alone = captureIo();
    expect(await runVms([GUEST], { ...OPTS, maxInstructions: '100000' }, alone.io)).toBe(ExitCode.BUDGET_EXHAUSTED);
    const { o, io } = captureIo();
    const code = await runVms([GUEST], { ...OPTS, migrateTo: `127.0.0.1:${port}`, after: '60000', maxInstructions: '100000' }, io);
    expect(o.stderr).toMatch(/migration failed: .*ECONNREFUSED/);
    expect(o.stderr).toMatch(/the guest keeps running here\ntrapvisor: instruction budget of 100000 exhausted/);
    expect(code).toBe(ExitCode.BUDGET_EXHAUSTED);
    expect(o.stdout).toBe(alone.o.stdout); // 100,000 instructions in all, not 60,000 + 100,000
  });

  it('does not migrate when --max-instructions runs out before --after', async () => {
    const port = await freePort();
    const alone = captureIo();
    await runVms([GUEST], { ...OPTS, maxInstructions: '100000' }, alone.io);
    const { o, io } = captureIo();
    const code = await runVms([GUEST], { ...OPTS, migrateTo: `127.0.0.1:${port}`, after: '150000', maxInstructions: '100000' }, io);
    expect(code).toBe(ExitCode.BUDGET_EXHAUSTED);
    expect(o.stderr).toMatch(/^trapvisor: the instruction budget of 100000 ran out before --after 150000; no migration\n/);
    expect(o.stderr).not.toMatch(/migration failed/);
    expect(o.stdout).toBe(alone.o.stdout);
  });

  it('refuses a bad --engine or --max-instructions before listening, and --after without --migrate-to', async () => {
    const port = await freePort();
    for (const [flag, value, message] of [['--engine', 'jit', /--engine must be blocks or interpret, not 'jit'/], ['--max-instructions', 'lots', /--max-instructions: not a number: 'lots'/]] as const) {
      for (const command of ['migrate', 'replicate']) {
        const r = spawnSync(process.execPath, [CLI, command, '--listen', String(port), flag, value], { encoding: 'utf8', timeout: 10_000 });
        expect(r.status, `${command} ${flag} ${value}`).toBe(ExitCode.USAGE);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).not.toMatch(/waiting/);
      }
    }
    await expect(runVms([GUEST], { ...OPTS, after: '1000' }, captureIo().io)).rejects.toThrow(/--after goes with --migrate-to/);
  });

  it('a destination fed garbage refuses it and runs nothing', async () => {
    const port = await freePort();
    const dst = startDestination(port);
    await dst.ready;
    const s = connect(port, '127.0.0.1');
    await new Promise<void>((r) => s.on('connect', () => r()));
    const body = Buffer.from('{"type":"begin","protocol":"trapvisor-migration/1","name":"x","memorySize":3}');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    s.write(Buffer.concat([head, body]));
    s.on('error', () => {});
    expect(await dst.exited).toBe(ExitCode.BAD_INPUT);
    expect(dst.err()).toMatch(/migration refused: migration: bad memory size 3; nothing runs/);
    expect(dst.out()).toBe('');
    s.destroy();
  });
});
