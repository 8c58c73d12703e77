; memset, memcpy, memmove and memcmp for the Swift runtime and compiler-generated copies, linked
; into the kernel and into every program (they use no privileged instruction). DF is clear on
; entry to the kernel's code and to programs (IA32_FMASK clears it on every system call).
; Written here rather than in Swift because the optimizer recognizes a Swift byte loop as
; "memset" or "memcpy" and turns it into a call to itself. REP STOSB/MOVSB are fast on every
; CPU with ERMSB and correct on all (Intel SDM vol 1 §7.3.9.3).
bits 64
section .text

global memset, memcpy, memmove, memcmp

; void *memset(void *destination, int value, size_t count)
memset:
    mov r8, rdi
    mov eax, esi
    mov rcx, rdx
    rep stosb
    mov rax, r8
    ret

; void *memcpy(void *destination, const void *source, size_t count)
memcpy:
    mov rax, rdi
    mov rcx, rdx
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
    rep movsb
    ret

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
