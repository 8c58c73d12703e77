; The assembled AP trampoline (boot/trampoline.asm) as data inside the kernel image.
section .rodata
global trampoline_image_start, trampoline_image_end
trampoline_image_start:
    incbin "trampoline.bin"
trampoline_image_end:
