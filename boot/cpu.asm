; CPU instructions that Swift cannot express: port I/O, control registers, MSRs, descriptor
; tables, CPUID, TSC, halting. Each is a tiny System V ABI function that Swift declares with
; @_extern(c) in Sources/Kernel/Arch/Instructions.swift (arguments arrive in rdi, rsi, rdx, rcx).
bits 64
section .text

%macro export 1
global %1
%1:
%endmacro

export port_write8
    mov edx, edi
    mov eax, esi
    out dx, al
    ret
export port_read8
    mov edx, edi
    xor eax, eax
    in al, dx
    ret
export port_write16
    mov edx, edi
    mov eax, esi
    out dx, ax
    ret
export port_read16
    mov edx, edi
    xor eax, eax
    in ax, dx
    ret
export port_write32
    mov edx, edi
    mov eax, esi
    out dx, eax
    ret
export port_read32
    mov edx, edi
    in eax, dx
    ret

export read_cr0
    mov rax, cr0
    ret
export write_cr0
    mov cr0, rdi
    ret
export read_cr2
    mov rax, cr2
    ret
export read_cr3
    mov rax, cr3
    ret
export write_cr3
    mov cr3, rdi
    ret
export read_cr4
    mov rax, cr4
    ret
export write_cr4
    mov cr4, rdi
    ret
export read_rflags
    pushfq
    pop rax
    ret

; uint64 read_msr(uint32 msr)
export read_msr
    mov ecx, edi
    rdmsr
    shl rdx, 32
    or rax, rdx
    ret
; void write_msr(uint32 msr, uint64 value)
export write_msr
    mov ecx, edi
    mov eax, esi
    mov rdx, rsi
    shr rdx, 32
    wrmsr
    ret

; void cpuid_query(uint32 leaf, uint32 subleaf, uint32 *out4)  -> out = eax, ebx, ecx, edx
export cpuid_query
    push rbx
    mov r8, rdx
    mov eax, edi
    mov ecx, esi
    cpuid
    mov [r8], eax
    mov [r8 + 4], ebx
    mov [r8 + 8], ecx
    mov [r8 + 12], edx
    pop rbx
    ret

; uint64 read_timestamp_counter(void): RDTSC, ordered after earlier loads by LFENCE
; (Intel SDM vol 2B, RDTSC) so a clock read is not hoisted above the code it times.
export read_timestamp_counter
    lfence
    rdtsc
    shl rdx, 32
    or rax, rdx
    ret

; uint64 read_random(uint64 *out): RDRAND into *out; returns 1 when the CPU delivered a value
; (CF=1), 0 when it had none ready (Intel SDM vol 2B, RDRAND: retry a few times).
export read_random
    rdrand rax
    jnc .none
    mov [rdi], rax
    mov eax, 1
    ret
.none:
    xor eax, eax
    ret

export cpu_halt
    hlt
    ret
export cpu_pause
    pause
    ret
export interrupts_enable
    sti
    ret
export interrupts_disable
    cli
    ret
; Enable interrupts and halt in one step: STI's one-instruction shadow means no interrupt
; can arrive between the two, so a wake-up cannot be missed (Intel SDM vol 2B, STI).
export interrupts_enable_and_halt
    sti
    hlt
    ret
; Stop this CPU for good: interrupts off, halt forever (NMIs return to the loop).
export cpu_stop_forever
    cli
.again:
    hlt
    jmp .again

; void load_gdt(const void *pointer, uint16 codeSelector, uint16 dataSelector)
; Loads the GDT and reloads every segment register; CS through a far return.
export load_gdt
    lgdt [rdi]
    mov ax, dx
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    ; GS is loaded with the null selector, which on x86-64 leaves GS.base alone only if we
    ; write the base afterwards: the kernel sets IA32_GS_BASE after calling this.
    mov gs, ax
    pop rax                 ; return address
    push rsi                ; new CS
    push rax
    retfq
export load_idt
    lidt [rdi]
    ret
export load_task_register
    ltr di
    ret
export invalidate_page
    invlpg [rdi]
    ret

; uint64 current_cpu_block(void): the per-CPU block's self pointer at GS:0.
export current_cpu_block
    mov rax, [gs:0]
    ret

; Deliberate faults for the in-kernel tests.
export raise_invalid_opcode
    ud2
    ret

; uint64 application_processor_entry_address(void): the Swift AP entry, for the trampoline.
extern application_processor_entry
export application_processor_entry_address
    lea rax, [rel application_processor_entry]
    ret

; uint64 raise_invalid_opcode_address(void): where the #UD of raise_invalid_opcode happens,
; so the invalid-opcode self test can check the reported RIP exactly.
export raise_invalid_opcode_address
    lea rax, [rel raise_invalid_opcode]
    ret
