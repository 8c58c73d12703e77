; The C allocator names the Swift runtime calls, forwarded to the kernel heap
; (Sources/Kernel/Memory/KernelHeap.swift): Swift may not define functions with these names.
bits 64
section .text

global posix_memalign, free
extern kernel_posix_memalign, kernel_free

posix_memalign:
    jmp kernel_posix_memalign
free:
    jmp kernel_free
