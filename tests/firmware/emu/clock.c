/* HAL-style bring-up for the machine tests: a RAM vector table installed through VTOR, a 1 kHz
 * SysTick interrupt tick used for every timeout, then the family's clock configuration
 * (supply/voltage scaling, HSE or MSI/HSI, PLL, flash latency, clock switch). Built once per
 * family with -DFAM_H7 / -DFAM_F7 / -DFAM_F4 / -DFAM_L4 / -DFAM_G4. */
#include <stdint.h>

#define REG(a) (*(volatile uint32_t *)(a))
#define SYST_CSR 0xE000E010u
#define SYST_RVR 0xE000E014u
#define SYST_CVR 0xE000E018u
#define SCB_VTOR 0xE000ED08u
#define SCB_CPACR 0xE000ED88u
#define DHCSR 0xE000EDF0u
#define DEMCR 0xE000EDFCu
#define DWT_CTRL 0xE0001000u
#define DWT_CYCCNT 0xE0001004u
#define DWT_LAR 0xE0001FB0u

volatile uint32_t ticks;
volatile float tick_sum;

void SysTick_Handler(void)
{
    ticks++;
    tick_sum += 0.5f; /* uses the FPU inside the handler: the thread's FP state must survive */
}

void HardFault_Handler(void)
{
    for (;;) {
    }
}

void Default_Handler(void)
{
    for (;;) {
    }
}

__attribute__((section(".vectors"), aligned(512), used)) void (*const vectors[16])(void) = {
    0, Default_Handler, Default_Handler, HardFault_Handler, Default_Handler, Default_Handler,
    Default_Handler, 0, 0, 0, 0, Default_Handler, Default_Handler, 0, Default_Handler,
    SysTick_Handler,
};

static void tick_start(uint32_t reload)
{
    REG(DHCSR) = 0xA05F0000u; /* as the ST CubeIDE loader template does */
    REG(SCB_VTOR) = (uint32_t)vectors;
    ticks = 0;
    REG(SYST_RVR) = reload;
    REG(SYST_CVR) = 0;
    REG(SYST_CSR) = 7; /* core clock, TICKINT, ENABLE */
    __asm__ volatile("cpsie i" ::: "memory");
}

static int wait_set(uint32_t addr, uint32_t mask, uint32_t want, uint32_t timeout_ms)
{
    uint32_t start = ticks;
    while ((REG(addr) & mask) != want) {
        if (ticks - start > timeout_ms)
            return 0;
    }
    return 1;
}

/* Returns 1 when the clock tree is up, 100 + step number on a timeout. */
uint32_t clock_up(uint32_t reload)
{
    tick_start(reload);
#if defined(FAM_H7)
    REG(0x5802480Cu) = (REG(0x5802480Cu) & ~7u) | 2u; /* PWR_CR3: LDO supply */
    if (!wait_set(0x58024804u, 1u << 13, 1u << 13, 100)) return 101; /* CSR1.ACTVOSRDY */
    REG(0x58024818u) = 3u << 14;                                    /* D3CR.VOS = scale 1 */
    if (!wait_set(0x58024818u, 1u << 13, 1u << 13, 100)) return 102; /* VOSRDY */
    REG(0x58024400u) |= 1u << 16;                                   /* HSEON */
    if (!wait_set(0x58024400u, 1u << 17, 1u << 17, 100)) return 103;
    REG(0x58024428u) = 2u | (5u << 4);                              /* PLLSRC=HSE, DIVM1=5 */
    REG(0x58024430u) = (160u - 1) | ((2u - 1) << 9) | ((4u - 1) << 16) | ((2u - 1) << 24);
    REG(0x5802442Cu) = (REG(0x5802442Cu) & ~0xFu) | (2u << 2) | (7u << 16);
    REG(0x58024400u) |= 1u << 24;                                   /* PLL1ON */
    if (!wait_set(0x58024400u, 1u << 25, 1u << 25, 100)) return 104;
    REG(0x52002000u) = 2u | (2u << 4);                              /* FLASH_ACR latency 2 */
    if ((REG(0x52002000u) & 0x3Fu) != 0x22u) return 105;
    REG(0x58024418u) = 8u | (4u << 4);                              /* HPRE /2, D1PPRE /2 */
    REG(0x58024410u) = (REG(0x58024410u) & ~7u) | 3u;               /* SW = PLL1 */
    if (!wait_set(0x58024410u, 7u << 3, 3u << 3, 100)) return 106;
#elif defined(FAM_F7) || defined(FAM_F4)
#if defined(FAM_F7)
    const uint32_t pll = 25u | (432u << 6) | (0u << 16) | (1u << 22) | (9u << 24); /* 216 MHz */
    const uint32_t latency = 7;
#else
    const uint32_t pll = 8u | (360u << 6) | (0u << 16) | (1u << 22) | (7u << 24); /* 180 MHz */
    const uint32_t latency = 5;
#endif
    REG(0x40023840u) |= 1u << 28;                                   /* APB1ENR.PWREN */
    REG(0x40007000u) |= 3u << 14;                                   /* PWR_CR.VOS scale 1 */
    REG(0x40023800u) |= 1u << 16;                                   /* HSEON */
    if (!wait_set(0x40023800u, 1u << 17, 1u << 17, 100)) return 103;
    REG(0x40023804u) = pll;
    REG(0x40023800u) |= 1u << 24;                                   /* PLLON */
    if (!wait_set(0x40023800u, 1u << 25, 1u << 25, 100)) return 104;
    REG(0x40007000u) |= 1u << 16;                                   /* over-drive */
    if (!wait_set(0x40007004u, 1u << 16, 1u << 16, 100)) return 107;
    REG(0x40007000u) |= 1u << 17;
    if (!wait_set(0x40007004u, 1u << 17, 1u << 17, 100)) return 108;
    REG(0x40023C00u) = latency;
    if ((REG(0x40023C00u) & 0xFu) != latency) return 105;
    REG(0x40023808u) = (5u << 10) | (4u << 13) | 2u;                /* APB /4 /2, SW = PLL */
    if (!wait_set(0x40023808u, 3u << 2, 2u << 2, 100)) return 106;
#elif defined(FAM_L4) || defined(FAM_G4)
#if defined(FAM_L4)
    const uint32_t pll = 1u | (0u << 4) | (40u << 8) | (1u << 24);  /* MSI 4 MHz -> 80 MHz */
    REG(0x40021058u) |= 1u << 28;                                   /* APB1ENR1.PWREN */
#else
    const uint32_t pll = 2u | (3u << 4) | (85u << 8) | (1u << 24);  /* HSI16 -> 170 MHz */
    REG(0x40021058u) |= 1u << 28;
    REG(0x40007080u) &= ~(1u << 8);                                 /* PWR_CR5.R1MODE: boost */
#endif
    REG(0x40007000u) = (REG(0x40007000u) & ~(3u << 9)) | (1u << 9); /* VOS range 1 */
    if (!wait_set(0x40007014u, 1u << 10, 0, 100)) return 102;       /* SR2.VOSF == 0 */
    REG(0x4002100Cu) = pll;
    REG(0x40021000u) |= 1u << 24;                                   /* PLLON */
    if (!wait_set(0x40021000u, 1u << 25, 1u << 25, 100)) return 104;
    REG(0x40022000u) = (REG(0x40022000u) & ~0xFu) | 4u;             /* latency 4 */
    if ((REG(0x40022000u) & 0xFu) != 4u) return 105;
    REG(0x40021008u) = (REG(0x40021008u) & ~3u) | 3u;               /* SW = PLL */
    if (!wait_set(0x40021008u, 3u << 2, 3u << 2, 100)) return 106;
#endif
    return 1;
}

/* Wait for n SysTick interrupts while computing in floating point; returns ticks, and stores
 * whether the thread's FP value survived every interrupt in *ok. */
uint32_t wait_ticks(uint32_t reload, uint32_t n, uint32_t *ok)
{
    volatile float x = 1.0f;
    float acc = 0.0f;
    tick_start(reload);
    while (ticks < n) {
        acc += x; /* live FP registers when the interrupt arrives */
    }
    __asm__ volatile("cpsid i" ::: "memory");
    REG(SYST_CSR) = 0;
    *ok = (acc > 0.0f) && (tick_sum == 0.5f * (float)ticks);
    return ticks;
}

/* SysTick without interrupt: count COUNTFLAG sets (the ExtMemLoader tick). */
uint32_t countflag_ticks(uint32_t reload, uint32_t n)
{
    uint32_t seen = 0;
    REG(SYST_RVR) = reload;
    REG(SYST_CVR) = 0;
    REG(SYST_CSR) = 5; /* core clock, no TICKINT */
    while (seen < n) {
        if (REG(SYST_CSR) & (1u << 16))
            seen++;
    }
    REG(SYST_CSR) = 0;
    return seen;
}

/* DWT cycle-counter delay (the minimal community loaders' HAL_Delay). */
uint32_t dwt_delay(uint32_t cycles)
{
    REG(DWT_LAR) = 0xC5ACCE55u;
    REG(DEMCR) |= 1u << 24;
    REG(DWT_CYCCNT) = 0;
    REG(DWT_CTRL) |= 1u;
    while (REG(DWT_CYCCNT) < cycles) {
    }
    return REG(DWT_CYCCNT);
}

uint32_t dwt_without_trcena(void)
{
    REG(DEMCR) &= ~(1u << 24);
    REG(DWT_CYCCNT) = 5;
    REG(DWT_CTRL) |= 1u;
    for (volatile int i = 0; i < 100; i++) {
    }
    return REG(DWT_CYCCNT);
}

#if defined(FAM_H7)
/* Double precision on the M7's FPv5-D16: sqrt(2) * 1e6 rounded. */
uint32_t fp64(uint32_t x)
{
    volatile double d = (double)x;
    double r = 1.0;
    for (int i = 0; i < 30; i++)
        r = 0.5 * (r + d / r);
    return (uint32_t)(r * 1e6 + 0.5);
}
#endif

void svc_call(void)
{
    __asm__ volatile("svc #1");
}

/* With the loader's vector table installed, a bus fault escalates to its HardFault handler. */
uint32_t fault_with_table(uint32_t address)
{
    REG(SCB_VTOR) = (uint32_t)vectors;
    return REG(address);
}

/* Sleep with WFI between SysTick interrupts until n ticks have passed. */
uint32_t wfi_ticks(uint32_t reload, uint32_t n)
{
    tick_start(reload);
    while (ticks < n)
        __asm__ volatile("wfi");
    REG(SYST_CSR) = 0;
    return ticks;
}
