; Boot stub: multiboot2 header, 32-bit entry from GRUB, switch to 64-bit long mode, call kmain.
;
; GRUB enters in 32-bit protected mode with paging off (Multiboot2 spec §3.3):
; EAX = 0x36d76289, EBX = physical address of the boot information. We build a temporary
; identity map of the first 4 GiB with 2 MiB pages (enough for the kernel, RAM under QEMU's
; default sizes and the local/I/O APIC MMIO windows), enable PAE + long mode + NX, and jump to
; 64-bit code. The kernel replaces these tables with its own as soon as it knows the memory map.

MULTIBOOT2_MAGIC      equ 0xE85250D6
MULTIBOOT2_ARCH_I386  equ 0
BOOTLOADER_MAGIC      equ 0x36D76289

CR0_PE   equ 1 << 0
CR0_MP   equ 1 << 1
CR0_EM   equ 1 << 2
CR0_WP   equ 1 << 16
CR0_PG   equ 1 << 31
CR4_PAE  equ 1 << 5
CR4_OSFXSR equ 1 << 9
CR4_OSXMMEXCPT equ 1 << 10
EFER_MSR equ 0xC0000080
EFER_LME equ 1 << 8
EFER_NXE equ 1 << 11

PAGE_PRESENT  equ 1 << 0
PAGE_WRITABLE equ 1 << 1
PAGE_HUGE     equ 1 << 7

COM1 equ 0x3F8

section .multiboot2 align=8
header_start:
    dd MULTIBOOT2_MAGIC
    dd MULTIBOOT2_ARCH_I386
    dd header_end - header_start
    dd -(MULTIBOOT2_MAGIC + MULTIBOOT2_ARCH_I386 + (header_end - header_start))
    ; End tag (Multiboot2 spec §3.1.3): no other request; GRUB passes the memory map,
    ; command line, modules and ACPI RSDP tags by default.
    align 8
    dw 0, 0
    dd 8
header_end:

section .boottext progbits alloc exec nowrite align=16
bits 32
global boot_entry
boot_entry:
    cli
    cld
    mov esp, boot_stack_top
    cmp eax, BOOTLOADER_MAGIC
    jne .not_multiboot
    mov [boot_magic], eax
    mov [boot_info], ebx

    ; Long mode present? CPUID 0x80000001 EDX bit 29 (Intel SDM vol 2A, CPUID).
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb .no_long_mode
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 29
    jz .no_long_mode

    ; PML4[0] -> PDPT, PDPT[0..3] -> four page directories of 512 x 2 MiB pages = 4 GiB.
    mov eax, boot_pdpt
    or eax, PAGE_PRESENT | PAGE_WRITABLE
    mov [boot_pml4], eax
    mov ecx, 0
.fill_pdpt:
    mov eax, ecx
    shl eax, 12
    add eax, boot_page_directories
    or eax, PAGE_PRESENT | PAGE_WRITABLE
    mov [boot_pdpt + ecx * 8], eax
    inc ecx
    cmp ecx, 4
    jne .fill_pdpt
    mov ecx, 0                      ; ecx = 2 MiB page index, 0..2047
.fill_pd:
    mov eax, ecx
    shl eax, 21
    or eax, PAGE_PRESENT | PAGE_WRITABLE | PAGE_HUGE
    mov [boot_page_directories + ecx * 8], eax
    mov eax, ecx
    shr eax, 11                     ; high dword of the physical address (always 0 below 4 GiB)
    mov [boot_page_directories + ecx * 8 + 4], dword 0
    inc ecx
    cmp ecx, 2048
    jne .fill_pd

    mov eax, boot_pml4
    mov cr3, eax
    mov eax, cr4
    or eax, CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT
    mov cr4, eax
    mov ecx, EFER_MSR
    rdmsr
    or eax, EFER_LME | EFER_NXE
    wrmsr
    mov eax, cr0
    and eax, ~CR0_EM
    or eax, CR0_PG | CR0_PE | CR0_WP | CR0_MP
    mov cr0, eax

    lgdt [boot_gdt_pointer]
    jmp 0x08:long_mode_entry

.not_multiboot:
    mov esi, message_not_multiboot
    jmp .fail
.no_long_mode:
    mov esi, message_no_long_mode
.fail:
    ; Print the reason on COM1 (polling the line status register) and stop for good.
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    mov dx, COM1
    lodsb
    test al, al
    jz .halt
    out dx, al
    mov dx, COM1 + 5
    jmp .wait
.halt:
    hlt
    jmp .halt

bits 64
long_mode_entry:
    xor eax, eax
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    mov rsp, boot_stack_top
    xor rbp, rbp
    mov edi, [boot_magic]
    mov esi, [boot_info]
    extern kmain
    call kmain
.halt:
    cli
    hlt
    jmp .halt

section .bootdata progbits alloc noexec write align=16
message_not_multiboot: db "swiglet: not started by a multiboot2 loader", 13, 10, 0
message_no_long_mode:  db "swiglet: this CPU has no 64-bit long mode", 13, 10, 0
boot_magic: dd 0
boot_info:  dd 0

; Temporary GDT: null, 64-bit code (0x08), data (0x10). Intel SDM vol 3A §3.4.5.
align 16
boot_gdt:
    dq 0
    dq 0x00AF9A000000FFFF
    dq 0x00CF92000000FFFF
boot_gdt_end:
boot_gdt_pointer:
    dw boot_gdt_end - boot_gdt - 1
    dq boot_gdt

section .bss nobits alloc noexec write align=4096
boot_pml4: resb 4096
boot_pdpt: resb 4096
boot_page_directories: resb 4096 * 4
; The boot CPU's stack. The page under it stays unmapped once the kernel builds its own page
; tables, so an overflow faults instead of corrupting the page tables above.
global boot_stack_guard, boot_stack_bottom, boot_stack_top
boot_stack_guard: resb 4096
boot_stack_bottom: resb 65536
boot_stack_top:
