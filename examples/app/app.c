/*
 * extflash example application for STM32H7: code in internal flash, a splash-screen bitmap and
 * a font in external QSPI flash (memory-mapped at 0x90000000), as a typical GUI firmware keeps
 * its assets. `make demo` programs the external part into the virtual board's flash chip.
 */
#include <stdint.h>

#define WIDTH 160
#define HEIGHT 120

/* A generated RGB565 gradient: 160 x 120 x 2 bytes = 37.5 KiB of asset data. */
#define PX(x, y) (uint16_t)((((x) * 31 / (WIDTH - 1)) << 11) | (((y) * 63 / (HEIGHT - 1)) << 5) | (((x) + (y)) & 31))
#define ROW8(x, y) PX(x, y), PX((x) + 1, y), PX((x) + 2, y), PX((x) + 3, y), \
                   PX((x) + 4, y), PX((x) + 5, y), PX((x) + 6, y), PX((x) + 7, y)
#define ROW40(x, y) ROW8(x, y), ROW8((x) + 8, y), ROW8((x) + 16, y), ROW8((x) + 24, y), ROW8((x) + 32, y)
#define ROW(y) ROW40(0, y), ROW40(40, y), ROW40(80, y), ROW40(120, y)
#define ROWS4(y) ROW(y), ROW((y) + 1), ROW((y) + 2), ROW((y) + 3)
#define ROWS20(y) ROWS4(y), ROWS4((y) + 4), ROWS4((y) + 8), ROWS4((y) + 12), ROWS4((y) + 16)

__attribute__((section(".qspi_rodata"), used))
const uint16_t splash[WIDTH * HEIGHT] = {
    ROWS20(0), ROWS20(20), ROWS20(40), ROWS20(60), ROWS20(80), ROWS20(100)
};

/* 96 printable ASCII glyphs, 8 x 8 bits each. */
#define GLYPH(c) (uint8_t)((c) * 7), (uint8_t)((c) * 13), (uint8_t)((c) * 29), (uint8_t)((c) ^ 0x5A), \
                 (uint8_t)((c) * 3), (uint8_t)((c) * 11), (uint8_t)((c) ^ 0xA5), (uint8_t)(c)
#define GLYPHS8(c) GLYPH(c), GLYPH((c) + 1), GLYPH((c) + 2), GLYPH((c) + 3), \
                   GLYPH((c) + 4), GLYPH((c) + 5), GLYPH((c) + 6), GLYPH((c) + 7)
__attribute__((section(".qspi_rodata"), used))
const uint8_t font8x8[96 * 8] = {
    GLYPHS8(32), GLYPHS8(40), GLYPHS8(48), GLYPHS8(56), GLYPHS8(64), GLYPHS8(72),
    GLYPHS8(80), GLYPHS8(88), GLYPHS8(96), GLYPHS8(104), GLYPHS8(112), GLYPHS8(120),
};

/* Code that runs from the memory-mapped window (execute-in-place). */
__attribute__((section(".qspi_text"), noinline, used))
uint32_t checksum_splash(void)
{
    uint32_t sum = 0;
    for (unsigned i = 0; i < WIDTH * HEIGHT; i++) {
        sum = (sum << 3) ^ (sum >> 29) ^ splash[i];
    }
    return sum;
}

int main(void)
{
    volatile uint32_t result = checksum_splash() ^ font8x8[33 * 8];
    (void)result;
    for (;;) {
    }
}

extern uint32_t _estack;
void Reset_Handler(void)
{
    main();
}

__attribute__((section(".isr_vector"), used))
const void *const vectors[2] = {&_estack, (void *)Reset_Handler};
