/*
 * The oracle runner: executes generated test cases on a real x86 CPU and records what happened.
 *
 * One source, two builds (made by test/oracle/generate.ts; nothing in the project links them):
 *   - native: x86-64 Linux with libc. Runs the cases whose 32-bit meaning survives in 64-bit mode
 *     (the generator adds 0x67 so memory operands use 32-bit addresses).
 *   - i386:   freestanding 32-bit static ELF (gcc -m32 -nostdlib), run under qemu-i386. Runs the
 *     cases that mean something else, or nothing, in 64-bit mode.
 *
 * Usage: runner CASES.bin RESULTS.bin (formats: test/oracle/format.ts).
 *
 * Memory (all below 64 KiB; test/oracle/format.ts has the same constants): a sled of INT3 bytes
 * at SLED_BASE with the instruction under test at INSN_ADDRESS, and a data window at DATA_BASE that
 * starts each case zeroed except for the case's initial bytes. The case's registers and flags are
 * loaded and control jumps to the instruction; the INT3 where control lands (fall-through or
 * branch target) raises SIGTRAP, or the instruction raises its own exception. The handler runs on
 * an alternate stack (the case's ESP is arbitrary), reads every register, EFLAGS, EIP, the trap
 * number and error code from the kernel's signal frame, and returns to the loop.
 */
#include <stdint.h>

#define SLED_BASE 0x1000u
#define SLED_SIZE 0x7000u
#define INSN_ADDRESS 0x4000u
#define DATA_BASE 0x8000u
#define DATA_SIZE 0x1000u
#define CASE_MAGIC 0x43565654u   /* "TVVC" */
#define RESULT_MAGIC 0x52565654u /* "TVVR" */
#define EFLAGS_LOADED 0x0cd5u    /* OF DF SF ZF AF PF CF: the bits a case may set */

#define SIGILL 4
#define SIGTRAP 5
#define SIGBUS 7
#define SIGFPE 8
#define SIGSEGV 11
#define SA_SIGINFO 4u
#define SA_ONSTACK 0x08000000u
#define SA_NODEFER 0x40000000u
#define SA_RESTORER 0x04000000u

typedef unsigned long ulong;

/* ------------------------------------------------------------------ system interface */
#ifdef __i386__
static long sys(long n, long a, long b, long c, long d, long e, long f) {
  long r;
  /* The sixth argument (EBP) is only mmap2's page offset, always 0 here. */
  (void)f;
  __asm__ volatile("push %%ebp\n  xor %%ebp, %%ebp\n  int $0x80\n  pop %%ebp\n"
                   : "=a"(r)
                   : "0"(n), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
                   : "memory");
  return r;
}
#define NR_exit 1
#define NR_read 3
#define NR_write 4
#define NR_open 5
#define NR_close 6
#define NR_rt_sigaction 174
#define NR_sigaltstack 186
#define NR_mmap 192 /* mmap2: offset in pages */
#else
static long sys(long n, long a, long b, long c, long d, long e, long f) {
  long r;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return r;
}
#define NR_exit 60
#define NR_read 0
#define NR_write 1
#define NR_open 2
#define NR_close 3
#define NR_rt_sigaction 13
#define NR_sigaltstack 131
#define NR_mmap 9
#endif

void *memset(void *d, int c, ulong n) {
  volatile uint8_t *p = d;
  while (n--) *p++ = (uint8_t)c;
  return d;
}
void *memcpy(void *d, const void *s, ulong n) {
  volatile uint8_t *p = d;
  const uint8_t *q = s;
  while (n--) *p++ = *q++;
  return d;
}

static void put(const char *s) {
  ulong n = 0;
  while (s[n]) n++;
  sys(NR_write, 2, (long)s, (long)n, 0, 0, 0);
}
static void die(const char *what) {
  put("oracle runner: ");
  put(what);
  put("\n");
  sys(NR_exit, 1, 0, 0, 0, 0, 0);
  for (;;) {
  }
}

static void *map(ulong at, ulong size, int prot) {
  /* MAP_PRIVATE | MAP_ANONYMOUS | (MAP_FIXED_NOREPLACE when at != 0) */
  long flags = 0x02 | 0x20 | (at ? 0x100000 : 0);
  long r = sys(NR_mmap, (long)at, (long)size, prot, flags, -1, 0);
  if (r < 0 && r > -4096) die("mmap failed");
  if (at && (ulong)r != at) die("mmap: fixed address refused");
  return (void *)r;
}

/* ------------------------------------------------------------------ running one case */
/* Read by run_case; eax ecx edx ebx esp ebp esi edi order. */
uint32_t g_load[8];
ulong g_load_flags;
ulong g_target;
/* The loop's stack pointer and callee-saved registers while a case runs. */
ulong g_saved[8];

/* Loads the case's state and jumps to the instruction. "Returns" through case_return. */
uint32_t run_case(void);
/* Called by the signal handler (on the alternate stack): resumes after run_case's call. */
void case_return(void);

#ifdef __i386__
__asm__(
    ".text\n.globl run_case\nrun_case:\n"
    "  mov %ebx, g_saved+0\n  mov %esi, g_saved+4\n  mov %edi, g_saved+8\n"
    "  mov %ebp, g_saved+12\n  mov %esp, g_saved+16\n"
    /* Segment registers as the process started (a case may have loaded others). */
    "  mov $0x2b, %eax\n  mov %eax, %ds\n  mov %eax, %es\n  mov %eax, %gs\n  xor %eax, %eax\n  mov %eax, %fs\n"
    "  push g_load_flags\n  popf\n"
    "  mov g_load+0, %eax\n  mov g_load+4, %ecx\n  mov g_load+8, %edx\n  mov g_load+12, %ebx\n"
    "  mov g_load+16, %esp\n  mov g_load+20, %ebp\n  mov g_load+24, %esi\n  mov g_load+28, %edi\n"
    "  jmp *g_target\n"
    ".globl case_return\ncase_return:\n"
    "  mov g_saved+16, %esp\n  mov g_saved+0, %ebx\n  mov g_saved+4, %esi\n"
    "  mov g_saved+8, %edi\n  mov g_saved+12, %ebp\n  cld\n  xor %eax, %eax\n  ret\n");
#else
__asm__(
    ".text\n.globl run_case\nrun_case:\n"
    "  mov %rbx, g_saved+0(%rip)\n  mov %rbp, g_saved+8(%rip)\n  mov %r12, g_saved+16(%rip)\n"
    "  mov %r13, g_saved+24(%rip)\n  mov %r14, g_saved+32(%rip)\n  mov %r15, g_saved+40(%rip)\n"
    "  mov %rsp, g_saved+48(%rip)\n"
    "  pushq g_load_flags(%rip)\n  popfq\n"
    "  mov g_load+0(%rip), %eax\n  mov g_load+4(%rip), %ecx\n  mov g_load+8(%rip), %edx\n"
    "  mov g_load+12(%rip), %ebx\n  mov g_load+20(%rip), %ebp\n  mov g_load+24(%rip), %esi\n"
    "  mov g_load+28(%rip), %edi\n  mov g_target(%rip), %r11\n  mov g_load+16(%rip), %esp\n"
    "  jmp *%r11\n"
    ".globl case_return\ncase_return:\n"
    "  mov g_saved+48(%rip), %rsp\n  mov g_saved+0(%rip), %rbx\n  mov g_saved+8(%rip), %rbp\n"
    "  mov g_saved+16(%rip), %r12\n  mov g_saved+24(%rip), %r13\n  mov g_saved+32(%rip), %r14\n"
    "  mov g_saved+40(%rip), %r15\n  cld\n  xor %eax, %eax\n  ret\n");
#endif

/* What the handler read: eax..edi, eflags, eip, trapno, err, gs fs es ds cs ss, signal. */
enum { R_EFL = 8, R_EIP, R_TRAPNO, R_ERR, R_GS, R_FS, R_ES, R_DS, R_CS, R_SS, R_SIG, R_CODE, R_COUNT };
uint32_t g_out[R_COUNT];

static void on_signal(int sig, void *info, void *context) {
  g_out[R_CODE] = (uint32_t)((int *)info)[2]; /* si_code */
  uint8_t *uc = context;
#ifdef __i386__
  /* struct ucontext: uc_flags, uc_link, uc_stack (12 bytes), then sigcontext:
     gs fs es ds edi esi ebp esp ebx edx ecx eax trapno err eip cs eflags esp_at_signal ss */
  uint32_t *g = (uint32_t *)(uc + 20);
  static const int order[8] = {11, 10, 9, 8, 7, 6, 5, 4};
  for (int r = 0; r < 8; r++) g_out[r] = g[order[r]];
  g_out[R_EFL] = g[16];
  g_out[R_EIP] = g[14];
  g_out[R_TRAPNO] = g[12];
  g_out[R_ERR] = g[13];
  g_out[R_GS] = g[0] & 0xffff;
  g_out[R_FS] = g[1] & 0xffff;
  g_out[R_ES] = g[2] & 0xffff;
  g_out[R_DS] = g[3] & 0xffff;
  g_out[R_CS] = g[15] & 0xffff;
  g_out[R_SS] = g[18] & 0xffff;
#else
  /* struct ucontext: uc_flags, uc_link, uc_stack (24 bytes), then gregs[23]:
     r8..r15 rdi rsi rbp rbx rdx rax rcx rsp rip eflags csgsfs err trapno oldmask cr2 */
  uint64_t *g = (uint64_t *)(uc + 40);
  static const int order[8] = {13, 14, 12, 11, 15, 10, 9, 8};
  for (int r = 0; r < 8; r++) g_out[r] = (uint32_t)g[order[r]];
  g_out[R_EFL] = (uint32_t)g[17];
  g_out[R_EIP] = (uint32_t)g[16];
  g_out[R_TRAPNO] = (uint32_t)g[20];
  g_out[R_ERR] = (uint32_t)g[19];
  for (int s = R_GS; s <= R_SS; s++) g_out[s] = 0;
#endif
  g_out[R_SIG] = (uint32_t)sig;
  case_return();
}

#ifndef __i386__
/* The kernel needs a restorer on x86-64 even though the handler never returns. */
__asm__(".text\nrestore_rt:\n  mov $15, %eax\n  syscall\n  hlt\n");
void restore_rt(void);
#endif

struct kernel_sigaction {
  void *handler;
  ulong flags;
  void *restorer;
  uint32_t mask[2];
};

static void install(int sig) {
  struct kernel_sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.handler = (void *)on_signal;
  sa.flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
#ifndef __i386__
  sa.flags |= SA_RESTORER;
  sa.restorer = (void *)restore_rt;
#endif
  if (sys(NR_rt_sigaction, sig, (long)&sa, 0, 8, 0, 0) != 0) die("rt_sigaction");
}

/* ------------------------------------------------------------------ files */
static uint8_t *read_all(const char *path, ulong *size) {
  long fd = sys(NR_open, (long)path, 0, 0, 0, 0, 0);
  if (fd < 0) die("cannot open the case file");
  ulong cap = 1u << 26; /* 64 MiB of address space; pages appear as they are written */
  uint8_t *buf = map(0, cap, 3);
  ulong n = 0;
  for (;;) {
    long r = sys(NR_read, fd, (long)(buf + n), (long)(cap - n), 0, 0, 0);
    if (r < 0) die("read");
    if (r == 0) break;
    n += (ulong)r;
    if (n == cap) die("case file too large");
  }
  sys(NR_close, fd, 0, 0, 0, 0, 0);
  *size = n;
  return buf;
}

static uint8_t *g_obuf;
static ulong g_olen;
static void out8(uint32_t v) { g_obuf[g_olen++] = (uint8_t)v; }
static void out16(uint32_t v) { out8(v); out8(v >> 8); }
static void out32(uint32_t v) { out16(v); out16(v >> 16); }
static uint32_t rd16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }

/* ------------------------------------------------------------------ main loop */
static int run(int argc, char **argv) {
  if (argc != 3) die("usage: runner CASES.bin RESULTS.bin");
  uint8_t *sled = map(SLED_BASE, SLED_SIZE, 7);
  uint8_t *data = map(DATA_BASE, DATA_SIZE, 3);
  uint8_t *before = map(0, DATA_SIZE, 3);
  memset(sled, 0xcc, SLED_SIZE);

  struct { void *sp; int flags; ulong size; } ss = {map(0, 1 << 16, 3), 0, 1 << 16};
  if (sys(NR_sigaltstack, (long)&ss, 0, 0, 0, 0, 0) != 0) die("sigaltstack");
  install(SIGTRAP);
  install(SIGSEGV);
  install(SIGILL);
  install(SIGFPE);
  install(SIGBUS);

  ulong size;
  uint8_t *in = read_all(argv[1], &size);
  if (size < 8 || rd32(in) != CASE_MAGIC) die("bad case file");
  uint32_t count = rd32(in + 4);
  g_obuf = map(0, 1u << 26, 3);
  out32(RESULT_MAGIC);
  out32(count);

  const uint8_t *p = in + 8;
  uint8_t *insn = (uint8_t *)(ulong)INSN_ADDRESS;
  for (uint32_t c = 0; c < count; c++) {
    /* Case: code length, chunk count (u16), 8 registers, eflags, code, chunks (u16 at, u16 len, bytes). */
    uint32_t code_len = p[0];
    uint32_t chunks = rd16(p + 2);
    for (int r = 0; r < 8; r++) g_load[r] = rd32(p + 4 + 4 * r);
    g_load_flags = (rd32(p + 36) & EFLAGS_LOADED) | 0x2;
    const uint8_t *code = p + 40;
    const uint8_t *q = code + code_len;
    memset(data, 0, DATA_SIZE);
    for (uint32_t k = 0; k < chunks; k++) {
      uint32_t at = rd16(q), len = rd16(q + 2);
      if (at + len > DATA_SIZE) die("memory chunk out of range");
      memcpy(data + at, q + 4, len);
      q += 4 + len;
    }
    p = q;
    memcpy(before, data, DATA_SIZE);
    memcpy(insn, code, code_len);
    g_target = (ulong)insn;
    run_case();
    memset(insn, 0xcc, code_len);

    /* Result: signal, trapno, si_code, 0 (u8 each), err, eip, 8 registers, eflags, 6 selectors (u16), changed bytes. */
    out8(g_out[R_SIG]);
    out8(g_out[R_TRAPNO]);
    out8(g_out[R_CODE]);
    out8(0);
    out32(g_out[R_ERR]);
    out32(g_out[R_EIP]);
    for (int r = 0; r < 8; r++) out32(g_out[r]);
    out32(g_out[R_EFL]);
    for (int s = R_GS; s <= R_SS; s++) out16(g_out[s]);
    uint32_t changed = 0;
    for (uint32_t i = 0; i < DATA_SIZE; i++) changed += data[i] != before[i];
    out16(changed);
    for (uint32_t i = 0; i < DATA_SIZE; i++) {
      if (data[i] != before[i]) {
        out16(i);
        out8(data[i]);
      }
    }
  }
  long fd = sys(NR_open, (long)argv[2], 01 | 0100 | 01000, 0644, 0, 0, 0); /* O_WRONLY|O_CREAT|O_TRUNC */
  if (fd < 0) die("cannot create the result file");
  for (ulong off = 0; off < g_olen;) {
    long r = sys(NR_write, fd, (long)(g_obuf + off), (long)(g_olen - off), 0, 0, 0);
    if (r <= 0) die("write");
    off += (ulong)r;
  }
  sys(NR_close, fd, 0, 0, 0, 0, 0);
  return 0;
}

/* Entry without libc: the initial stack holds argc, then argv. */
#ifdef __i386__
__asm__(".text\n.globl _start\n_start:\n  mov %esp, %eax\n  and $-16, %esp\n  push %eax\n  push %eax\n"
        "  call start_c\n  hlt\n");
#else
__asm__(".text\n.globl _start\n_start:\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call start_c\n  hlt\n");
#endif
__attribute__((used)) void start_c(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  sys(NR_exit, run(argc, argv), 0, 0, 0, 0, 0);
}
