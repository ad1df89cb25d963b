/**
 * Deferred host state (Vmx.deferHostState): an exit taken through `enter()` saves the guest into
 * the VMCS as always but leaves it on the processor, and the next entry with the same VMCS loads
 * only what every entry loads (RIP, RSP, RFLAGS, interruptibility, activity) unless a VMWRITE
 * changed something the processor holds. Proved here by running one guest on two hosts, one
 * eager and one deferring, with the same VMWRITEs between exits, and requiring every exit, every
 * VMCS field and every guest register to be identical at every exit; and by checking that
 * anything needing root operation gets exactly the host state an eager exit loads.
 */
import { describe, expect, test } from 'vitest';
import { SegReg } from '../../emulator/cpu/segments.js';
import { ExitReason as R, Pin, Proc } from '../../emulator/vmx/controls.js';
import { FIELDS, VmcsField as F } from '../../emulator/vmx/fields.js';
import { HOST, VmxHost } from './harness.js';

/** xorshift32, the same choices every run. */
function rng(seed: number): () => number {
  let x = seed;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

/**
 * A guest that reads what the host may change (ES, CR0 through its shadow, SYSENTER_CS, the
 * stack), changes segment registers itself, and exits by CPUID once per round.
 */
const GUEST_LOOP = `
l:  mov eax, es
    mov ebx, cr0
    mov ecx, 0x174
    rdmsr
    mov edi, eax
    mov eax, es
    mov esi, eax
    mov eax, [0x10000]
    inc eax
    mov [0x10000], eax
    test al, 1
    mov dx, 0x10
    jz .same
    xor dx, dx
.same:
    mov fs, dx
    mov ds, [cs:ds_sel]
    push esi
    pop ebp
    xor eax, eax
    cpuid
    jmp l
ds_sel: dw 0x10
`;

function host(defer: boolean): VmxHost {
  const h = new VmxHost({ engine: 'blocks', proc: Proc.USE_MSR_BITMAPS }); // an empty bitmap: RDMSR does not exit
  h.cpu.vmx.deferHostState = defer;
  h.vmcs.write(F.CR0_GUEST_HOST_MASK, 0xe); // MP, EM, TS come from the read shadow
  h.load(GUEST_LOOP);
  return h;
}

/** Every VMCS field's value (both halves of 64-bit fields), by name. */
function fields(h: VmxHost): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of FIELDS) out[f.name] = h.vmcs.read64(f.encoding).toString(16);
  return out;
}

/** What root operation looks like: the registers x86 host code would run with. */
function rootState(h: VmxHost): unknown {
  const c = h.cpu;
  const seg = (s: number) => [c.segSel[s], c.segBase[s], c.segLimit[s], c.segAttr[s]];
  return {
    eip: c.eip, esp: c.r[4], eflags: c.eflags, cpl: c.cpl, cr0: c.mmu.cr0, cr3: c.mmu.cr3, cr4: c.mmu.cr4, dr7: c.dr[7],
    gdt: [c.gdtBase, c.gdtLimit], idt: [c.idtBase, c.idtLimit], nonRoot: c.vmx.nonRoot,
    segments: [SegReg.ES, SegReg.CS, SegReg.SS, SegReg.DS, SegReg.FS, SegReg.GS, SegReg.LDTR, SegReg.TR].map(seg),
    tlbContext: c.mmu.contextTag, secondLevel: c.mmu.second !== null,
  };
}

describe('deferred host state', () => {
  test('an eager and a deferring host see identical exits, VMCS fields and guest registers through 300 exits with VMWRITEs between them', () => {
    const eager = host(false), deferred = host(true);
    const random = rng(0xdefe11);
    for (let round = 0; round < 300; round++) {
      // What the guest will read this round: ES, CR0's shadowed bits, SYSENTER_CS.
      const es = deferred.vmcs.read(F.GUEST_ES_SELECTOR), shadow = deferred.vmcs.read(F.CR0_READ_SHADOW) & 0xe;
      const sysenterCs = deferred.vmcs.read(F.GUEST_SYSENTER_CS);
      const a = eager.run(), b = deferred.run();
      expect(b).toEqual(a);
      expect(a.reason).toBe(10); // CPUID
      expect(deferred.cpu.vmx.hostPending).not.toBeNull();
      expect(eager.cpu.vmx.hostPending).toBeNull();
      expect(fields(deferred)).toEqual(fields(eager));
      const gprs = (h: VmxHost) => [...h.cpu.r].filter((_, i) => i !== 4); // ESP: the guest's is GUEST_RSP
      expect(gprs(deferred)).toEqual(gprs(eager));
      const r = deferred.cpu.r;
      expect([r[6]! & 0xffff, r[3]! & 0xe, r[7]]).toEqual([es, shadow, sysenterCs]); // ESI, EBX, EDI
      // The same change on both hosts: something the processor holds, something every entry
      // loads, or nothing.
      const choice = random() % 8;
      for (const h of [eager, deferred]) {
        if (choice === 0) { // ES null (unusable), or back to the flat data segment
          const nul = h.vmcs.read(F.GUEST_ES_SELECTOR) !== 0;
          h.vmcs.write(F.GUEST_ES_SELECTOR, nul ? 0 : 0x10);
          h.vmcs.write(F.GUEST_ES_AR_BYTES, nul ? 0x10000 : 0xc093);
        } else if (choice === 1) h.vmcs.write(F.CR0_READ_SHADOW, 0x11 | (round & 0xe));
        else if (choice === 2) h.vmcs.write(F.GUEST_SYSENTER_CS, round);
        else if (choice === 3) h.vmcs.write(F.GUEST_RSP, 0x8000 - round * 4);
        else if (choice === 4) h.vmcs.write(F.GUEST_CR0, h.vmcs.read(F.GUEST_CR0) ^ 0x8); // TS (the guest reads the shadow's)
      }
      for (const h of [eager, deferred]) h.skip(a);
    }
    // Most entries found the guest still on the processor; the eager host never does.
    expect(deferred.cpu.vmx.heldEntries).toBeGreaterThan(150);
    expect(eager.cpu.vmx.heldEntries).toBe(0);
  });

  test('a guest stopped in its MOV SS shadow resumes: the shadow held is the guest\'s, not the host\'s', () => {
    // The host's own MOV SS blocking fails VMRESUME (VM-instruction error 26); a deferring host
    // still holds the guest's blocking, which must not count as the host's.
    for (const defer of [false, true]) {
      const h = new VmxHost({ engine: 'blocks', pin: Pin.PREEMPTION_TIMER });
      h.cpu.vmx.deferHostState = defer;
      h.vmcs.write(F.VM_EXIT_CONTROLS, h.vmcs.read(F.VM_EXIT_CONTROLS) | (1 << 22));
      h.load('mov ax, ss\nmov ss, ax\nnop\nhlt');
      h.vmcs.write(F.VMX_PREEMPTION_TIMER_VALUE, 2);
      expect(h.run().reason).toBe(R.PREEMPTION_TIMER);
      expect(h.vmcs.read(F.GUEST_INTERRUPTIBILITY_INFO)).toBe(2); // blocking by MOV SS, saved
      h.vmcs.write(F.VMX_PREEMPTION_TIMER_VALUE, 1000);
      expect(h.run().reason).toBe(R.HLT);
    }
  });

  test('root operation after a deferred exit has exactly the host state an eager exit loads', () => {
    for (const need of ['instruction', 'vmptrld', 'vmclear', 'vmxoff'] as const) {
      const eager = host(false), deferred = host(true);
      eager.run(); deferred.run();
      expect(deferred.cpu.vmx.nonRoot).toBe(false);
      expect(deferred.cpu.mmu.second).not.toBeNull(); // the guest's EPT is still in place...
      if (need === 'instruction') {
        for (const h of [eager, deferred]) h.cpu.run(1); // the host's HLT at HOST_RIP
        expect(deferred.cpu.eip).toBe(HOST.CODE + 1);
      } else if (need === 'vmptrld') {
        for (const h of [eager, deferred]) expect(h.cpu.vmx.vmptrld(BigInt(HOST.VMCS)).ok).toBe(true);
      } else if (need === 'vmclear') {
        for (const h of [eager, deferred]) expect(h.cpu.vmx.vmclear(BigInt(HOST.VMCS)).ok).toBe(true);
      } else {
        for (const h of [eager, deferred]) expect(h.cpu.vmx.vmxoff().ok).toBe(true);
      }
      expect(deferred.cpu.vmx.hostPending).toBeNull();
      expect(rootState(deferred)).toEqual(rootState(eager)); // ...until root operation needs the host
    }
  });
});
