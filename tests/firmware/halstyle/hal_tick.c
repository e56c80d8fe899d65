/*
 * HAL core: SysTick-interrupt time base through a vector table in RAM.
 *
 * This is the tick strategy of ST's CubeIDE loader template: the vector table sits at
 * image base + 0x1FC (so at 0x2x000200, see the linker scripts), VTOR points at it and
 * SysTick_Handler increments uwTick at 1 kHz. Entry points clear PRIMASK while they work
 * and set it again before returning, so time only passes inside a call.
 */
#include "hal.h"

uint32_t SystemCoreClock = HS_RESET_CLOCK_HZ;
volatile uint32_t uwTick;
static uint32_t uwTickPrio = 1u << NVIC_PRIO_BITS; /* invalid until HAL_InitTick succeeds */

extern uint32_t _estack; /* from the linker script: top of the stack the host provides */

static void Default_Handler(void)
{
    /* A fault in a loader has no one to report to: park here until the host's timeout. */
    for (;;) {
    }
}

void SysTick_Handler(void)
{
#ifdef HS_TICK_READS_QSPI_SR
    /* A test variant whose handler reads the controller's status register: the tick may come
     * in the middle of a command (tests/emu/test_ticks_native.py). */
    (void)*(volatile uint32_t *)(HS_QUADSPI_BASE + 0x08u);
#endif
    HAL_IncTick();
}

typedef void (*vector_t)(void);

/* Core exceptions only: the loader enables no peripheral interrupt, so the table ends at
 * SysTick (16 entries, 64 bytes, so the 0x200 placement satisfies VTOR alignment). */
__attribute__((section(".isr_vector"), used))
const vector_t g_pfnVectors[16] = {
    (vector_t)&_estack, /* initial SP: unused, the host sets MSP */
    Default_Handler,    /* Reset */
    Default_Handler,    /* NMI */
    Default_Handler,    /* HardFault */
    Default_Handler,    /* MemManage */
    Default_Handler,    /* BusFault */
    Default_Handler,    /* UsageFault */
    0, 0, 0, 0,
    Default_Handler,    /* SVCall */
    Default_Handler,    /* DebugMonitor */
    0,
    Default_Handler,    /* PendSV */
    SysTick_Handler,    /* SysTick */
};

void SystemInit(void)
{
    /* Hard-float build: the FPU must be on before any FP instruction (CP10/CP11 full access). */
    SCB_CPACR |= SCB_CPACR_CP10_CP11_FULL;
    /* Exceptions are taken through our table, never through whatever the flash app had. */
    SCB_VTOR = (uint32_t)g_pfnVectors;
    cm_dsb();
    cm_isb();
}

static void NVIC_SetPriorityGrouping(uint32_t group)
{
    uint32_t v = SCB_AIRCR & ~(SCB_AIRCR_VECTKEY_MASK | SCB_AIRCR_PRIGROUP_MASK);
    SCB_AIRCR = v | SCB_AIRCR_VECTKEY | (group << SCB_AIRCR_PRIGROUP_POS);
}

static void NVIC_SetSysTickPriority(uint32_t priority)
{
    uint32_t v = SCB_SHPR3 & ~(0xFFu << 24);
    SCB_SHPR3 = v | (((priority << (8u - NVIC_PRIO_BITS)) & 0xFFu) << 24);
}

HAL_StatusTypeDef HAL_Init(void)
{
    NVIC_SetPriorityGrouping(NVIC_PRIORITYGROUP_4);
    return HAL_InitTick(TICK_INT_PRIORITY);
}

/* Called again by SystemClock_Config whenever SystemCoreClock changes. */
HAL_StatusTypeDef HAL_InitTick(uint32_t priority)
{
    uint32_t reload = SystemCoreClock / 1000u;
    if (reload == 0u || reload - 1u > SYSTICK_LOAD_MAX || priority >= (1u << NVIC_PRIO_BITS)) {
        return HAL_ERROR;
    }
    SYSTICK_LOAD = reload - 1u;
    NVIC_SetSysTickPriority(priority);
    SYSTICK_VAL = 0u;
    SYSTICK_CTRL = SYSTICK_CTRL_CLKSOURCE | SYSTICK_CTRL_TICKINT | SYSTICK_CTRL_ENABLE;
    uwTickPrio = priority;
    return HAL_OK;
}

void HAL_IncTick(void)
{
    uwTick += 1u;
}

uint32_t HAL_GetTick(void)
{
    return uwTick;
}

void HAL_Delay(uint32_t ms)
{
    uint32_t start = HAL_GetTick();
    uint32_t wait = ms;
    if (wait < HAL_MAX_DELAY) {
        wait += 1u; /* guarantee at least the requested time, as the HAL does */
    }
    while ((HAL_GetTick() - start) < wait) {
    }
}

HAL_StatusTypeDef HAL_WaitForFlag(volatile uint32_t *reg, uint32_t mask, uint32_t value,
                                  uint32_t timeout_ms)
{
    uint32_t start = HAL_GetTick();
    while ((*reg & mask) != value) {
        if (timeout_ms != HAL_MAX_DELAY && (HAL_GetTick() - start) > timeout_ms) {
            return HAL_TIMEOUT;
        }
    }
    return HAL_OK;
}
