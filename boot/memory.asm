; memset, memcpy, memmove and memcmp for the Swift runtime and compiler-generated copies, linked
; into the kernel and into every program (they use no privileged instruction). DF is clear on
; entry to the kernel's code and to programs (IA32_FMASK clears it on every system call).
; Written here rather than in Swift because the optimizer recognizes a Swift byte loop as
; "memset" or "memcpy" and turns it into a call to itself. Copies move 32 bytes per loop
; iteration through four 64-bit registers, then finish with REP MOVSB. Why not REP MOVSB
; throughout (fast on CPUs with ERMSB, Intel SDM vol 1 §7.3.9.3)? Under QEMU's TCG, which is
; how Swiglet runs, every REP iteration is one pass through the translated instruction: a
; byte costs what a 32-byte block costs here. Packet payloads (the TCP send and receive
; rings, channel buffers) are copied with this, so it sets the network core's byte rate.
bits 64
section .text

global memset, memcpy, memmove, memcmp

; void *memset(void *destination, int value, size_t count)
; Eight bytes per REP iteration (STOSQ with the byte repeated across RAX), then the last 0–7
; bytes with STOSB: for the same TCG reason as the copies, a byte-wide REP STOSB costs eight
; times as many passes, and a program's 2 MiB channel is zeroed whenever the program starts.
memset:
    mov r8, rdi
    movzx eax, sil
    mov r9, 0x0101010101010101
    imul rax, r9                ; the byte in all eight lanes
    mov rcx, rdx
    shr rcx, 3
    rep stosq
    mov rcx, rdx
    and rcx, 7
    rep stosb
    mov rax, r8
    ret

; void *memcpy(void *destination, const void *source, size_t count)
memcpy:
    mov rax, rdi
    jmp copy_forward

; Copies rdx bytes from rsi to rdi, lowest address first; safe for overlapping ranges when
; rdi <= rsi (each block is read whole before it is written, and writes stay below reads).
; Preserves rax.
copy_forward:
    mov rcx, rdx
    shr rcx, 5
    jz .tail
.block:
    mov r8, [rsi]
    mov r9, [rsi + 8]
    mov r10, [rsi + 16]
    mov r11, [rsi + 24]
    mov [rdi], r8
    mov [rdi + 8], r9
    mov [rdi + 16], r10
    mov [rdi + 24], r11
    add rsi, 32
    add rdi, 32
    dec rcx
    jnz .block
.tail:
    mov rcx, rdx
    and rcx, 31
    rep movsb
    ret

; void *memmove(void *destination, const void *source, size_t count)
memmove:
    mov rax, rdi
    mov rcx, rdx
    cmp rdi, rsi
    jbe .forward                ; destination below source: a forward copy never overwrites unread bytes
    lea r8, [rsi + rdx]
    cmp rdi, r8
    jae .forward                ; no overlap
    lea rsi, [rsi + rdx - 1]    ; overlap with destination above: copy backwards
    lea rdi, [rdi + rdx - 1]
    std
    rep movsb
    cld
    ret
.forward:
    jmp copy_forward

; int memcmp(const void *left, const void *right, size_t count)
memcmp:
    xor eax, eax
    test rdx, rdx
    jz .done
.loop:
    movzx eax, byte [rdi]
    movzx ecx, byte [rsi]
    sub eax, ecx
    jnz .done
    inc rdi
    inc rsi
    dec rdx
    jnz .loop
.done:
    ret
