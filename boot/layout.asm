; Addresses only the linker knows (section bounds, boot stack, per-CPU blocks), handed to Swift
; as one table: see KernelLayout in Sources/Kernel/Boot/KernelLayout.swift for the order.
bits 64
MAXIMUM_CPUS     equ 64
CPU_BLOCK_BYTES  equ 1024
BOOT_INTERRUPT_STACK_BYTES equ 16384

extern kernel_image_start, kernel_image_end, kernel_text_start, kernel_text_end
extern kernel_rodata_start, kernel_rodata_end, kernel_data_start, kernel_data_end
extern boot_stack_guard, boot_stack_bottom, boot_stack_top
extern trampoline_image_start, trampoline_image_end, interrupt_stub_table

section .text
global kernel_layout_table_address
kernel_layout_table_address:
    lea rax, [rel kernel_layout_table]
    ret

section .rodata
align 8
kernel_layout_table:
    dq kernel_image_start, kernel_image_end
    dq kernel_text_start, kernel_text_end
    dq kernel_rodata_start, kernel_rodata_end
    dq kernel_data_start, kernel_data_end
    dq boot_stack_guard, boot_stack_bottom, boot_stack_top
    dq trampoline_image_start, trampoline_image_end
    dq interrupt_stub_table
    dq cpu_blocks, MAXIMUM_CPUS, CPU_BLOCK_BYTES
    dq boot_descriptor_tables
    dq boot_interrupt_stacks, BOOT_INTERRUPT_STACK_BYTES

section .bss
align 4096
; Per-CPU blocks (CPUBlock in Sources/Kernel/Arch/CPU.swift), one per possible CPU, zeroed.
cpu_blocks: resb MAXIMUM_CPUS * CPU_BLOCK_BYTES
; The boot CPU's GDT, TSS and IDT, usable before any allocator exists (two pages).
boot_descriptor_tables: resb 8192
; The boot CPU's three interrupt stacks (double fault, NMI, machine check), each with a guard
; page below it that the kernel unmaps: [guard][stack] x 3.
boot_interrupt_stacks: resb 3 * (4096 + BOOT_INTERRUPT_STACK_BYTES)
