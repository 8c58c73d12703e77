; The static-site archive (site/ packed by scripts/pack-site.sh into site-archive.bin) as
; read-only data of the HTTP server program, and two C functions that give Swift its address
; and length (Sources/UserSpace/Programs/HTTPServer declares them with @_extern(c)). Assembled with
; `nasm -f elf64 -i <directory of site-archive.bin>/` and linked only into that program.
bits 64

section .rodata
align 16
site_archive_start:
    incbin "site-archive.bin"
site_archive_end:

section .text

; const void *site_archive_base(void): the archive's first byte.
global site_archive_base
site_archive_base:
    lea rax, [rel site_archive_start]
    ret

; uint64 site_archive_size(void): the archive's length in bytes.
global site_archive_size
site_archive_size:
    mov rax, site_archive_end - site_archive_start
    ret
