/* A boot image that jumps to the window without bringing the interface up (no clocks, no
 * QUADSPI, no memory-mapped mode): the run must name what is missing. */
#include <stdint.h>

#define APP_ADDRESS 0x90000000u

void nomap_reset(void);

__attribute__((section(".vectors"), used))
const uint32_t nomap_vectors[2] = {0x20020000u, (uint32_t)nomap_reset};

void nomap_reset(void)
{
    void (*entry)(void) = (void (*)(void))(APP_ADDRESS | 1u);
    entry();
    for (;;) {
    }
}
