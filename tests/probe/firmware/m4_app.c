/* A Cortex-M4 application of a dual-core STM32H747 that fights the Cortex-M7 for QUADSPI:
 * it takes hardware semaphore 0 and keeps it, then again and again resets QUADSPI through RCC
 * (AHB3RSTR.QSPIRST) and clears QUADSPI_CR, as a careless M4 firmware sharing the flash would.
 * Addresses: RM0399 (RCC 0x58024400, QUADSPI 0x52005000, HSEM 0x58026400). */
#include <stdint.h>

#define REG(a) (*(volatile uint32_t *)(a))
#define RCC_AHB3RSTR REG(0x5802447Cu)
#define QUADSPI_CR REG(0x52005000u)
#define HSEM_RLR0 REG(0x58026480u)
#define QSPIRST (1u << 14)

extern uint32_t _stack_top;
void reset_handler(void);

__attribute__((section(".vectors"), used)) const void *const vectors[2] = {
    &_stack_top, (const void *)reset_handler};

void reset_handler(void) {
    (void)HSEM_RLR0; /* one-step lock of semaphore 0, never released */
    for (;;) {
        for (volatile uint32_t i = 0; i < 200u; i++) {
        }
        RCC_AHB3RSTR |= QSPIRST;
        RCC_AHB3RSTR &= ~QSPIRST;
        QUADSPI_CR = 0;
    }
}
