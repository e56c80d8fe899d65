/* An STM32H7 application that makes the board hard to reach, as users' firmware does:
 *   -DTAKE_SWD_PINS  turns PA13/PA14 (SWDIO/SWCLK, AF0 from reset) into GPIO outputs;
 *   -DDIRECT_SMPS    configures the supply for direct SMPS (PWR_CR3: SDEN only), wrong on a
 *                    board wired for the LDO: the part locks up from the next power-on;
 *   -DSTOP_MODE      waits in Stop mode (SCR.SLEEPDEEP, WFI), and with -DKEEP_DEBUG first sets
 *                    DBGMCU_CR DBGSTOP_D1/DBGSTBY_D1 so the debug port stays clocked;
 *   -DIWDG_START     starts the independent watchdog with a 12.6 ms timeout (PR /4, RLR 100)
 *                    and, with -DIWDG_RELOAD, keeps reloading it.
 * Addresses: RM0399/RM0433 (RCC_AHB4ENR 0x580244E0, GPIOA 0x58020000, PWR_CR3 0x5802480C). */
#include <stdint.h>

#define REG(a) (*(volatile uint32_t *)(a))
#define RCC_AHB4ENR REG(0x580244E0u)
#define GPIOA_MODER REG(0x58020000u)
#define PWR_CR3 REG(0x5802480Cu)
#define DBGMCU_CR REG(0x5C001004u)
#define SCB_SCR REG(0xE000ED10u)
#define IWDG_KR REG(0x58004800u)
#define IWDG_RLR REG(0x58004808u)
#define BOOTS (*(volatile uint32_t *)0x20010000u) /* DTCM: counts the starts */

extern uint32_t _stack_top;
void reset_handler(void);

__attribute__((section(".vectors"), used)) const void *const vectors[2] = {
    &_stack_top, (const void *)reset_handler};

void reset_handler(void) {
#if defined(TAKE_SWD_PINS)
    RCC_AHB4ENR |= 1u; /* GPIOAEN */
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 26)) | (0x5u << 26); /* PA13, PA14: outputs */
#elif defined(DIRECT_SMPS)
    PWR_CR3 = (PWR_CR3 & ~0x7u) | 0x4u; /* SDEN: direct SMPS supply */
#elif defined(IWDG_START)
    BOOTS += 1;
    IWDG_KR = 0xCCCCu;
    IWDG_KR = 0x5555u;
    IWDG_RLR = 100u;
    IWDG_KR = 0xAAAAu;
    for (;;) {
#if defined(IWDG_RELOAD)
        IWDG_KR = 0xAAAAu;
#endif
    }
#elif defined(STOP_MODE)
#if defined(KEEP_DEBUG)
    DBGMCU_CR |= 0x6u; /* DBGSTOP_D1, DBGSTBY_D1 */
#endif
    SCB_SCR |= 1u << 2; /* SLEEPDEEP */
    for (;;) {
        __asm volatile("wfi");
    }
#endif
    for (;;) {
    }
}
