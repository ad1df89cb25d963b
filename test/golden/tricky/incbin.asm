; incbin, whole and in part, and strings with the data directives.
bits 32
        db 'start'
        incbin "inc/blob.bin"
        incbin "inc/blob.bin", 2
        incbin "inc/blob.bin", 1, 3
        align 4
        db `end\0`
        times 3 incbin "inc/blob.bin", 6, 2
