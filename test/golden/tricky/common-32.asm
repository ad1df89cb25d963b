; Everyday instructions in 32-bit code, as a kernel writes them.
bits 32
x: mov [x], byte 5
mov [x], word 5
mov [x], dword 5
cmp byte [esi], 'a'
int 0x80
int3
int 3
retn
ret
retf 8
call [ebx+4]
call near [ebx]
jmp near [ebx]
push dword [ebx]
pop dword [ebx]
push word [ebx]
out 0x80, al
out dx, eax
in eax, dx
in ax, 0x60
lidt [idtr]
mov eax, cr0
mov cr3, eax
mov dr7, eax
lea esi, [esi*4+x]
movzx eax, byte [x]
movsx edx, word [x]
setnz al
cmovz eax, [ebx]
xadd [ebx], eax
cmpxchg [ebx], cl
shld eax, ebx, 4
shrd eax, ebx, cl
bt eax, 3
bts dword [ebx], 31
loopnz x
nop
pause
ud2
rdtsc
cpuid
wrmsr
sysenter
invlpg [eax]
vmcall
vmlaunch
vmwrite eax, [ebx]
vmread [ebx], eax
invvpid eax, [ebx]
vmclear [ebx]
vmptrst [ebx]
cwde
cdq
cbw
cwd
pushfd
popfd
pushf
popf
pusha
popa
iret
iretd
lahf
sahf
xlatb
enter 8, 1
bound eax, [ebx]
arpl [ebx], ax
lar eax, ax
lsl eax, [ebx]
ltr ax
verr [ebx]
smsw eax
lmsw ax
clts
idtr: dw 0
dd 0
