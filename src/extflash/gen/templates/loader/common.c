/* Shared by the .stldr and FLM entry points. */
#include "loader.h"

int loader_init(void)
{
    /* No C startup runs and hosts do not promise a zeroed .bss, on the first call or later ones. */
    for (uint32_t *p = __bss_start__; p < __bss_end__; p++)
        *p = 0u;
    tick_init();
    if (!board_init())
        return 0;
    /* Hosts call Init before every operation (stldr-abi §5.2). Only a successful Init or
     * operation leaves the controller memory-mapped exactly as qspi_map does (a failed one leaves
     * it in indirect mode), and whatever could have changed the chip's state since changes that
     * too (a system reset resets both; a reset of the controller, or another loader's or an
     * application's set-up, leaves other values). The chip is then still in the state nor_init
     * put it in: resetting it and switching its modes again (a reset pair per protocol, the
     * volatile configuration writes) is not needed. */
    if (qspi_still_mapped()) {
        nor_resume();
        return 1;
    }
    if (!qspi_setup() || !nor_init())
        return 0;
    return qspi_map();
}

uint32_t flash_offset(uint32_t address)
{
    /* Hosts pass absolute window addresses (0x90000000 + offset); some pass bare offsets. */
    return address & 0x0FFFFFFFu;
}

/* Word-aligned 32-bit reads of the window for the middle of a range, single bytes for an
 * unaligned head and the tail: a quarter of the bus reads (and of the core's instructions) of a
 * byte loop. Memory-mapped mode serves reads of any width, as the core's own instruction
 * fetches from the window show; the window is read-only and reads stay inside the flash. */
static const volatile uint8_t *window_at(uint32_t offset)
{
    return (const volatile uint8_t *)(WINDOW_BASE + offset);
}

void window_read(uint32_t offset, uint8_t *out, uint32_t size)
{
    const volatile uint8_t *p = window_at(offset);
    for (; size && ((uint32_t)(uintptr_t)p & 3u); size--)
        *out++ = *p++;
    const volatile uint32_t *w = (const volatile uint32_t *)(uintptr_t)p;
    if (((uint32_t)(uintptr_t)out & 3u) == 0u) {
        uint32_t *o = (uint32_t *)(void *)out;
        for (; size >= 4u; size -= 4u)
            *o++ = *w++;
        out = (uint8_t *)o;
    } else {
        /* byte stores: Cortex-M0+ has no unaligned word stores */
        for (; size >= 4u; size -= 4u, out += 4) {
            uint32_t v = *w++;
            out[0] = (uint8_t)v;
            out[1] = (uint8_t)(v >> 8);
            out[2] = (uint8_t)(v >> 16);
            out[3] = (uint8_t)(v >> 24);
        }
    }
    for (p = (const volatile uint8_t *)w; size; size--)
        *out++ = *p++;
}

uint32_t byte_sum(uint32_t address, uint32_t size, uint32_t sum)
{
    /* Additive byte sum through the memory-mapped window (ST's CheckSum semantics). */
    const volatile uint8_t *p = window_at(flash_offset(address));
    for (; size && ((uint32_t)(uintptr_t)p & 3u); size--)
        sum += *p++;
    const volatile uint32_t *w = (const volatile uint32_t *)(uintptr_t)p;
    for (; size >= 4u; size -= 4u) {
        uint32_t v = *w++;
        sum += (v & 0xFFu) + ((v >> 8) & 0xFFu) + ((v >> 16) & 0xFFu) + (v >> 24);
    }
    for (p = (const volatile uint8_t *)w; size; size--)
        sum += *p++;
    return sum;
}
