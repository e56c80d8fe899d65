/* An application that runs from the memory-mapped window (linked at the window base): it writes
 * through semihosting and ITM stimulus port 0, computes in a function that lives in the window,
 * and ends with SYS_EXIT_EXTENDED carrying EXIT_STATUS. */
#include <stdint.h>

#ifndef EXIT_STATUS
#define EXIT_STATUS 0
#endif

#define SYS_WRITE0 0x04
#define SYS_WRITEC 0x03
#define SYS_EXIT 0x18
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define ITM_STIM0 (*(volatile uint32_t *)0xE0000000u)
#define ITM_TER (*(volatile uint32_t *)0xE0000E00u)
#define ITM_TCR (*(volatile uint32_t *)0xE0000E80u)
#define ITM_LAR (*(volatile uint32_t *)0xE0000FB0u)

extern uint32_t __stack_top__[];
volatile uint32_t sink;
void app_reset(void);

__attribute__((section(".vectors"), used))
const uint32_t app_vectors[2] = {(uint32_t)__stack_top__, (uint32_t)app_reset};

static int semihost(int op, const void *arg)
{
    register int r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void itm_puts(const char *s)
{
    DEMCR |= 1u << 24;              /* TRCENA */
    ITM_LAR = 0xC5ACCE55u;
    ITM_TCR |= 1u;                  /* ITMENA */
    ITM_TER |= 1u;                  /* stimulus port 0 */
    while (*s) {
        while ((ITM_STIM0 & 1u) == 0u) {
        }
        *(volatile uint8_t *)&ITM_STIM0 = (uint8_t)*s++;
    }
}

#ifdef USART_OUTPUT
/* STM32H743 USART1 (RM0433): base 0x40011000, CR1.UE bit 0 and TE bit 3, ISR.TXE bit 7 at
 * 0x1C, TDR at 0x28; its clock RCC_APB2ENR.USART1EN (0x580244F0 bit 4). */
#define RCC_APB2ENR (*(volatile uint32_t *)0x580244F0u)
#define USART1_REG(offset) (*(volatile uint32_t *)(0x40011000u + (offset)))

static void usart_puts(const char *s)
{
    RCC_APB2ENR |= 1u << 4;
    USART1_REG(0x00) = (1u << 0) | (1u << 3);
    while (*s) {
        while ((USART1_REG(0x1C) & (1u << 7)) == 0u) {
        }
        USART1_REG(0x28) = (uint8_t)*s++;
    }
}
#endif

__attribute__((noinline)) uint32_t fibonacci(uint32_t n)
{
    uint32_t a = 0, b = 1;
    while (n--) {
        uint32_t next = a + b;
        a = b;
        b = next;
    }
    return a;
}

#ifdef TICK_DELAY
/* A HAL_Delay from the window: SysTick at 1 kHz of the reset clock (HSI 64 MHz), its handler
 * counting in RAM, the wait reading the count through a call (tests/emu/test_idle_loops.py). */
#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static volatile uint32_t ticks;

static void tick_handler(void)
{
    ticks++;
}

__attribute__((aligned(128))) static void (*tick_vectors[16])(void) = {[15] = tick_handler};

__attribute__((noinline)) uint32_t get_tick(void)
{
    return ticks;
}

static void tick_delay(uint32_t n)
{
    SCB_VTOR = (uint32_t)tick_vectors;
    SYST_RVR = 64000u - 1u;
    SYST_CVR = 0u;
    SYST_CSR = 7u;
    uint32_t start = get_tick();
    while (get_tick() - start < n) {
    }
    SYST_CSR = 0u;
}
#endif

#ifdef WINDOW_STORE
/* A word stored into the window at WINDOW_STORE (an erased sector past the application): with
 * the loader's write set kept (WCCR) it reaches the chip as a page program, which a NOR flash
 * ignores without WEL. */
__attribute__((noinline)) void window_store(uint32_t value)
{
    *(volatile uint32_t *)WINDOW_STORE = value;
}
#endif

static void put_number(uint32_t value)
{
    char text[12];
    int i = sizeof text - 1;
    text[i] = 0;
    do {
        text[--i] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value);
    semihost(SYS_WRITE0, &text[i]);
}

void app_reset(void)
{
    semihost(SYS_WRITE0, "hello from the window\n");
    semihost(SYS_WRITE0, "fibonacci(20) = ");
    put_number(fibonacci(20));
    char newline = '\n';
    semihost(SYS_WRITEC, &newline);
    itm_puts("itm says hi\n");
#ifdef USART_OUTPUT
    usart_puts("usart says hi\r\n");
#endif
#ifdef WINDOW_STORE
    window_store(0x12345678u);
#endif
#ifdef TICK_DELAY
    tick_delay(TICK_DELAY);
    semihost(SYS_WRITE0, "waited\n");
#endif
#ifdef REPEAT
    for (uint32_t n = 0; n < REPEAT; n++)  /* a workload for bench/xip_speed.py */
        sink = fibonacci(n & 31u);
#endif
#ifdef SPIN_FOREVER
    for (uint32_t n = 0;; n++)      /* never ends: the run's timeout must */
        sink = fibonacci(n & 31u);
#endif
#ifdef PLAIN_EXIT  /* AArch32 SYS_EXIT: the reason itself in r1, no status */
    semihost(SYS_EXIT, (const void *)ADP_STOPPED_APPLICATION_EXIT);
#endif
#ifdef BAD_EXIT_BLOCK  /* a parameter block where nothing is mapped */
    semihost(SYS_EXIT_EXTENDED, (const void *)0x60000000u);
#endif
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, EXIT_STATUS};
    semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}
