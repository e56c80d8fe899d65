/* Timeouts without interrupts.
 * Cores with a DWT cycle counter (Cortex-M3/M4/M7/M33) count CPU cycles; the others poll the
 * SysTick COUNTFLAG once per millisecond (TICKINT stays off, so no handler and no vector table). */
#include "loader.h"

#if LOADER_TICK_DWT

void tick_init(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_LAR = 0xC5ACCE55u;          /* unlocks the DWT on Cortex-M7; ignored elsewhere */
    DWT_CTRL |= 1u;                 /* CYCCNTENA */
}

void timeout_start(timeout_t *t, uint32_t ms)
{
    t->last = DWT_CYCCNT;
    t->left = (uint64_t)ms * CYCLES_PER_MS;
}

int timeout_expired(timeout_t *t)
{
    uint32_t now = DWT_CYCCNT;
    uint32_t elapsed = now - t->last;   /* wraps correctly on the 32-bit counter */
    t->last = now;
    if (t->left <= elapsed)
        return 1;
    t->left -= elapsed;
    return 0;
}

void delay_us(uint32_t us)
{
    uint32_t start = DWT_CYCCNT;
    uint32_t cycles = us * (CYCLES_PER_MS / 1000u);
    while (DWT_CYCCNT - start < cycles) {
    }
}

#else

void tick_init(void)
{
    SYST_RVR = CYCLES_PER_MS - 1u;
    SYST_CVR = 0u;
    SYST_CSR = 5u;                  /* ENABLE | CLKSOURCE = CPU clock; TICKINT off */
}

void timeout_start(timeout_t *t, uint32_t ms)
{
    t->last = 0u;
    t->left = ms;
}

int timeout_expired(timeout_t *t)
{
    if (SYST_CSR & (1u << 16)) {    /* COUNTFLAG: one millisecond passed, cleared by this read */
        if (t->left == 0u)
            return 1;
        t->left--;
    }
    return 0;
}

void delay_us(uint32_t us)
{
    timeout_t t;
    timeout_start(&t, (us + 999u) / 1000u + 1u);
    while (!timeout_expired(&t)) {
    }
}

#endif
