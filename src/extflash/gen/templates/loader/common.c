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
    if (!qspi_setup() || !nor_init())
        return 0;
    return qspi_map();
}

uint32_t flash_offset(uint32_t address)
{
    /* Hosts pass absolute window addresses (0x90000000 + offset); some pass bare offsets. */
    return address & 0x0FFFFFFFu;
}

uint32_t byte_sum(uint32_t address, uint32_t size, uint32_t sum)
{
    /* Additive byte sum through the memory-mapped window (ST's CheckSum semantics). */
    const volatile uint8_t *p = (const volatile uint8_t *)(WINDOW_BASE + flash_offset(address));
    while (size--)
        sum += *p++;
    return sum;
}
