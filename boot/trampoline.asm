; Application-processor trampoline: real mode -> protected mode -> long mode -> Swift.
;
; Assembled as a flat binary for address 0x8000 and copied there by the boot CPU, which then
; sends INIT-SIPI-SIPI with vector 0x08 (Intel SDM vol 3A §8.4.4.1): the AP starts in real
; mode at CS:IP = 0x0800:0000. The boot CPU fills the parameter block below before each start;
; the started CPU copies what it needs before it signals the boot CPU, so one block serves all.
bits 16
org 0x8000

trampoline_start:
    jmp short real_mode_entry
    align 8
; Parameter block, offsets fixed (see Sources/Kernel/Arch/ApplicationProcessors.swift).
parameter_page_table:  dq 0     ; +8:  CR3 (must be below 4 GiB: loaded from 32-bit code)
parameter_stack_top:   dq 0     ; +16: top of this CPU's kernel stack
parameter_entry:       dq 0     ; +24: 64-bit Swift entry, void entry(uint64 argument)
parameter_argument:    dq 0     ; +32: passed in RDI

real_mode_entry:
    cli
    cld
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    lgdt [trampoline_gdt_pointer]
    mov eax, cr0
    or eax, 1                       ; CR0.PE
    mov cr0, eax
    jmp dword 0x08:protected_mode_entry

bits 32
protected_mode_entry:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr4
    or eax, (1 << 5) | (1 << 9) | (1 << 10)     ; PAE, OSFXSR, OSXMMEXCPT
    mov cr4, eax
    mov eax, [parameter_page_table]
    mov cr3, eax
    mov ecx, 0xC0000080                         ; IA32_EFER
    rdmsr
    or eax, (1 << 8) | (1 << 11)                ; LME, NXE
    wrmsr
    mov eax, cr0
    and eax, ~(1 << 2)                          ; clear EM
    or eax, (1 << 31) | (1 << 16) | (1 << 1)    ; PG, WP, MP
    mov cr0, eax
    jmp 0x18:long_mode_entry

bits 64
long_mode_entry:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, [parameter_stack_top]
    mov rdi, [parameter_argument]
    mov rax, [parameter_entry]
    xor rbp, rbp
    call rax
.halt:
    cli
    hlt
    jmp .halt

align 16
; null, 32-bit code (0x08), data (0x10), 64-bit code (0x18). Intel SDM vol 3A §3.4.5.
trampoline_gdt:
    dq 0
    dq 0x00CF9A000000FFFF
    dq 0x00CF92000000FFFF
    dq 0x00AF9A000000FFFF
trampoline_gdt_end:
trampoline_gdt_pointer:
    dw trampoline_gdt_end - trampoline_gdt - 1
    dd trampoline_gdt
trampoline_end:
