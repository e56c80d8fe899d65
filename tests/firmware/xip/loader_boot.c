/* A boot image made of a test loader (tests/firmware/ospi_hal): its Init brings the clocks,
 * pins, IO manager, controller and chip up and leaves the window memory-mapped; then the
 * application starts from the window as after a reset (VTOR, MSP, reset vector). For the
 * OCTOSPI/XSPI kits, which the boot generator does not cover. */
#include <stdint.h>

#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
/* OCTOSPI/XSPI (RM0468, RM0477): CR.ABORT bit 1, CR.FMODE [29:28], SR.BUSY bit 5, WCCR 0x180 */
#define CTRL(offset) (*(volatile uint32_t *)(OH_CONTROLLER_BASE + (offset)))
#define CR_ABORT (1u << 1)
#define CR_FMODE_MAPPED (3u << 28)
#define SR_BUSY (1u << 5)

int Init(void);
extern uint32_t __data_load__[], __data_start__[], __data_end__[], _estack[];

void shim_reset(void);

__attribute__((section(".boot_vectors"), used))
const uint32_t shim_vectors[2] = {(uint32_t)_estack, (uint32_t)shim_reset};

void shim_reset(void)
{
    for (uint32_t *src = __data_load__, *dst = __data_start__; dst < __data_end__;)
        *dst++ = *src++;
    if (!Init()) {
        for (;;) {
        }
    }
    SYST_CSR = 0u;  /* the loader's 1 kHz tick: the application brings its own vectors */
    /* The loader maps the window writable (WCCR set); an XIP boot maps it read-only:
     * abort, clear the write command, enter memory-mapped mode again (KEEP_WRITABLE_WINDOW
     * keeps the write set: code runs from that window too). */
#ifndef KEEP_WRITABLE_WINDOW
    CTRL(0x000) |= CR_ABORT;
    while (CTRL(0x020) & SR_BUSY) {
    }
    CTRL(0x180) = 0u;
    CTRL(0x000) |= CR_FMODE_MAPPED;
#endif
    const volatile uint32_t *app = (const volatile uint32_t *)OH_WINDOW;
    uint32_t sp = app[0], entry = app[1];
    SCB_VTOR = OH_WINDOW;
    __asm volatile("dsb\n\tisb\n\tmsr msp, %0\n\tbx %1" : : "r"(sp), "r"(entry) : "memory");
    for (;;) {
    }
}
