/* Boot image for the internal flash: bring the external-memory interface up from reset and run
 * the application from the memory-mapped window.
 *
 * It reuses the loader's drivers (board.c, qspi.c, nor.c, tick.c, common.c): loader_init() sets
 * the clock tree, the QUADSPI and GPIO clocks, the pins, the controller, puts the chip in its
 * read mode (quad enable, 4-byte addressing) and enters memory-mapped mode. Then the boot does
 * what a Cortex-M reset does for the application (ARMv7-M ARM B1.5.5 "Reset behavior"): VTOR
 * to its vector table (SCB_VTOR, 0xE000ED08, bits [31:7]), MSP from its first word, a jump to
 * its reset vector. */
#include "loader.h"
#include "boot_config.h"

#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)

extern uint32_t __data_load__[], __data_start__[], __data_end__[], __stack_top__[];

void boot_reset(void);

/* Initial MSP and reset vector: all a boot image that never enables interrupts needs. */
__attribute__((section(".vectors"), used))
const uint32_t boot_vectors[2] = {(uint32_t)__stack_top__, (uint32_t)boot_reset};

/* The boot stops here when the interface or the application is not usable: a debugger (or
 * `extflash run`) finds the core in this loop and reports why from the controller state. */
__attribute__((noinline, noreturn)) void boot_failed(void)
{
    for (;;) {
    }
}

__attribute__((noreturn)) static void jump_to_application(uint32_t vectors)
{
    const volatile uint32_t *table = (const volatile uint32_t *)vectors;
    uint32_t sp = table[0];
    uint32_t entry = table[1];
    if ((entry & 1u) == 0u || entry == 0xFFFFFFFFu)
        boot_failed();              /* erased or not a Thumb reset vector */
    SCB_VTOR = vectors;
    __asm volatile("dsb\n\tisb\n\tmsr msp, %0\n\tbx %1" : : "r"(sp), "r"(entry) : "memory");
    __builtin_unreachable();
}

void boot_reset(void)
{
    for (uint32_t *src = __data_load__, *dst = __data_start__; dst < __data_end__;)
        *dst++ = *src++;
    if (!loader_init())             /* clears .bss, clocks, pins, controller, chip, mapped mode */
        boot_failed();
    jump_to_application(APP_ADDRESS);
}
