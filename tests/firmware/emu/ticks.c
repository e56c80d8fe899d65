/* SysTick at 1 kHz (HSI 64 MHz core) with a handler that counts ticks, and a loop that waits for
 * them in RAM: what a HAL_Delay is. The machine's C tick loop (native/ticks_fast.c) handles such
 * ticks; tests/emu/test_ticks_native.py compares it with the Python run loop. `mode` adds what
 * must send a tick back to Python: a handler that reads a register Python models, ticks masked
 * by PRIMASK for a while, a loop that polls a register Python models. delay_ticks waits as
 * HAL_Delay does (tests/emu/test_idle_loops.py). */
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))
#define SCB_VTOR    REG(0xE000ED08u)
#define SYST_CSR    REG(0xE000E010u)
#define SYST_RVR    REG(0xE000E014u)
#define SYST_CVR    REG(0xE000E018u)
#define RCC_CR      REG(0x58024400u)
#define GPIOA_IDR   REG(0x58020010u)

#define MODE_HANDLER_READS_RCC 1u
#define MODE_MASKED_A_WHILE    2u
#define MODE_LOOP_READS_GPIO   4u

volatile uint32_t ticks;
volatile uint32_t seen;
static volatile uint32_t mode_now;

void SysTick_Handler(void)
{
    ticks++;
    if (mode_now & MODE_HANDLER_READS_RCC)
        seen += RCC_CR & 1u;
}

__attribute__((aligned(128))) static void (*vectors[16])(void) = {[15] = SysTick_Handler};

/* Wait for n ticks; returns the loop's turns. */
uint32_t wait_ticks(uint32_t n, uint32_t mode)
{
    mode_now = mode;
    SCB_VTOR = (uint32_t)vectors;
    SYST_RVR = 64000u - 1u;
    SYST_CVR = 0u;
    SYST_CSR = 7u; /* processor clock, TICKINT, ENABLE */
    uint32_t start = ticks, turns = 0;
    while (ticks - start < n) {
        turns++;
        if ((mode & MODE_MASKED_A_WHILE) && ticks - start == 3u) {
            __asm__ volatile("cpsid i" ::: "memory");
            for (volatile uint32_t i = 0; i < 30000u; i++) {
            }
            __asm__ volatile("cpsie i" ::: "memory");
        }
        if (mode & MODE_LOOP_READS_GPIO)
            seen += GPIOA_IDR & 1u;
    }
    SYST_CSR = 0u;
    return turns;
}

/* HAL_Delay's shape: the tick read through a call, compared with the start (the machine skips
 * such a wait from tick to tick: extflash/emu/idleloop.py). */
volatile uint32_t sink;

__attribute__((noinline)) uint32_t get_tick(void)
{
    return ticks;
}

static void start_ticks(void)
{
    mode_now = 0;
    SCB_VTOR = (uint32_t)vectors;
    SYST_RVR = 64000u - 1u;
    SYST_CVR = 0u;
    SYST_CSR = 7u;
}

/* how: 0 waits, 1 also stores in the loop, 2 also reads GPIOA in it, 3 waits twice in a row */
uint32_t delay_ticks(uint32_t n, uint32_t how)
{
    start_ticks();
    uint32_t start = get_tick();
    if (how == 1u) {
        while (get_tick() - start < n)
            sink = start;
    } else if (how == 2u) {
        while (get_tick() - start < n)
            if (GPIOA_IDR & 0x8000u)
                break;
    } else {
        while (get_tick() - start < n) {
        }
        if (how == 3u) {
            start = get_tick();
            while (get_tick() - start < n) {
            }
        }
    }
    SYST_CSR = 0u;
    return get_tick() - start;
}
