/**
 * A guest cannot reach memory outside its EPT map, whichever way it tries: direct loads and
 * stores beyond its guest-physical space, its own page tables pointing outside, its page-table
 * walk itself outside, string instructions running across the boundary, and system tables (IDT)
 * placed outside. Every attempt ends in an EPT violation exit at the first byte outside, the
 * secret planted in host memory is never read into a guest register, and host memory outside the
 * guest's map is byte-for-byte unchanged.
 */
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { ExitReason as R } from '../../emulator/vmx/controls.js';
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import { GUEST_BASE, GUEST_SIZE, HOST, RAM, VmxHost } from './harness.js';

const SECRET = 0x5ec2e75e;

function plantSecrets(h: VmxHost): void {
  const mem = h.cpu.mem;
  for (let a = GUEST_BASE + GUEST_SIZE; a < RAM; a += 4) mem.write32(a, SECRET);
  for (let a = HOST.SECRET; a < HOST.SECRET + 0x1000; a += 4) mem.write32(a, SECRET);
}

function hostHash(h: VmxHost): string {
  const u8 = h.cpu.mem.u8;
  // Everything but the guest's map, the VMCS (exit information) and the EPT tables (A/D flags).
  return createHash('sha256')
    .update(u8.subarray(0, HOST.VMCS)).update(u8.subarray(HOST.VMCS + 0x1000, HOST.EPT_PML4))
    .update(u8.subarray(HOST.EPT_PT2 + 0x1000, GUEST_BASE)).update(u8.subarray(GUEST_BASE + GUEST_SIZE, RAM))
    .digest('hex');
}

/** Guest paging on: PDE 0 identity-maps 4 MiB, plus whatever the attempt adds. */
const PAGING_ON = `
        mov eax, 0x20000
        mov dword [eax], 0x00000083
        mov cr3, eax
        mov eax, cr4
        or eax, 0x10
        mov cr4, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax`;

const ATTEMPTS: [string, string, number][] = [
  ['a load beyond guest-physical memory', 'mov eax, [0x300000]', 0x300000],
  ['a store beyond guest-physical memory', 'mov dword [0x200000], 1', 0x200000],
  ['a load just past the end, straddling it', 'mov eax, [0x1ffffe]', 0x200000],
  ['a 4 MiB guest page whose frame lies outside', `${PAGING_ON}\nmov dword [0x20004], 0x00c00083\nmov eax, [0x400010]`, 0xc00010],
  ['a page-table walk outside (CR3 beyond the map)', 'mov eax, 0x800000\nmov cr3, eax\nmov eax, cr0\nor eax, 0x80000000\nmov cr0, eax\nnop', 0x800000],
  ['rep movsd reading across the end', 'mov esi, 0x1ffff0\nmov edi, 0x10000\nmov ecx, 16\nrep movsd', 0x200000],
  ['rep stosd writing across the end', 'mov edi, 0x1ffff8\nmov eax, 0xbad\nmov ecx, 1024\nrep stosd', 0x200000],
  ['an IDT placed outside', 'mov dword [0x3000], 0x000007ff\nmov word [0x3004], 0x0040\nlidt [0x3000]\nud2', 0x400030],
];

describe('EPT isolation', () => {
  for (const [what, code, gpa] of ATTEMPTS) {
    test(what, () => {
      const h = new VmxHost();
      plantSecrets(h);
      const before = hostHash(h);
      h.load(code);
      const e = h.run();
      expect(e.reason).toBe(R.EPT_VIOLATION);
      expect(e.guestPhysicalAddress).toBe(gpa);
      for (let i = 0; i < 8; i++) expect(h.cpu.r[i]).not.toBe(SECRET | 0);
      // Resuming does not help: the same access exits again.
      const again = h.run();
      expect([again.reason, again.guestPhysicalAddress]).toEqual([R.EPT_VIOLATION, gpa]);
      expect(hostHash(h)).toBe(before);
    });
  }

  test('a string copy interrupted at the boundary is resumable: registers show the progress', () => {
    const h = new VmxHost();
    h.load('mov esi, 0x10000\nmov edi, 0x1ffff0\nmov ecx, 8\nrep movsd\nhlt');
    for (let i = 0; i < 8; i++) h.writeGuest32(0x10000 + i * 4, 0x100 + i);
    const e = h.run();
    expect([e.reason, e.guestPhysicalAddress]).toEqual([R.EPT_VIOLATION, 0x200000]);
    expect(h.cpu.r[1]).toBe(4); // four dwords copied, four left
    expect(h.cpu.r[7]).toBe(0x200000);
    expect(h.readGuest32(0x1ffffc)).toBe(0x103);
    expect(h.cpu.mem.read32(GUEST_BASE + GUEST_SIZE)).toBe(0); // nothing past the end
  });

  test('guest-physical addresses name guest memory only: the host page at the same number is untouched', () => {
    const h = new VmxHost();
    plantSecrets(h);
    h.load(`mov eax, [${HOST.SECRET}]\nmov dword [${HOST.SECRET}], 0x1234\nhlt`);
    expect(h.run().reason).toBe(R.HLT);
    expect(h.cpu.r[0]).toBe(0);
    expect(h.cpu.mem.read32(HOST.SECRET) >>> 0).toBe(SECRET);
    expect(h.readGuest32(HOST.SECRET)).toBe(0x1234);
  });

  test('VMX instructions aimed at host structures only exit', () => {
    const h = new VmxHost();
    h.load(`mov dword [0x3000], ${HOST.VMCS}\nmov dword [0x3004], 0\nvmclear [0x3000]`);
    const e = h.run();
    expect(e.reason).toBe(R.VMCLEAR);
    expect(h.vmcs.launchState).toBe(1); // still launched: the guest's VMCLEAR did nothing
    expect(h.vmcs.read(F.GUEST_RIP)).toBe(e.guestRip);
    expect(h.cpu.vmx.currentVmcs).toBe(HOST.VMCS); // and the current-VMCS pointer is the host's
  });
});
