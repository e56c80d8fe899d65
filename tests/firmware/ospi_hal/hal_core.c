/*
 * HAL core: a 1 kHz SysTick interrupt through a vector table in RAM (the CubeIDE loader
 * template's time base), HAL_GetTick timeouts, register-field helpers and the GPIO set-up.
 * Entry points clear PRIMASK while they work, so time only passes inside a call.
 */
#include "hal.h"

uint32_t SystemCoreClock = OH_RESET_CLOCK_HZ;
volatile uint32_t uwTick;

extern uint32_t _estack; /* linker script: top of the stack the host provides */

static void Default_Handler(void)
{
    /* A fault in a loader has no one to report to: park until the host's timeout. */
    for (;;) {
    }
}

void SysTick_Handler(void)
{
    HAL_IncTick();
}

typedef void (*vector_t)(void);

/* Core exceptions only (16 words, so the RAM base + 0x200 placement meets VTOR alignment). */
__attribute__((section(".isr_vector"), used))
const vector_t g_pfnVectors[16] = {
    (vector_t)&_estack, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, 0, 0, 0, 0,
    Default_Handler, Default_Handler, 0, Default_Handler, SysTick_Handler,
};

void SystemInit(void)
{
    SCB_CPACR |= SCB_CPACR_CP10_CP11_FULL; /* hard-float build: FPU on before any FP op */
    SCB_VTOR = (uint32_t)g_pfnVectors;
    cm_dsb();
    cm_isb();
}

HAL_StatusTypeDef HAL_Init(void)
{
    uint32_t v = SCB_AIRCR & ~(SCB_AIRCR_VECTKEY_MASK | SCB_AIRCR_PRIGROUP_MASK);
    SCB_AIRCR = v | SCB_AIRCR_VECTKEY | (NVIC_PRIORITYGROUP_4 << SCB_AIRCR_PRIGROUP_POS);
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
    SCB_SHPR3 = (SCB_SHPR3 & ~(0xFFu << 24)) | ((priority << (8u - NVIC_PRIO_BITS)) << 24);
    SYSTICK_VAL = 0u;
    SYSTICK_CTRL = SYSTICK_CTRL_CLKSOURCE | SYSTICK_CTRL_TICKINT | SYSTICK_CTRL_ENABLE;
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
    uint32_t wait = ms < HAL_MAX_DELAY ? ms + 1u : ms; /* at least ms full ticks */
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

void oh_set_field(const oh_field_t *f)
{
    OH_REG(f->address) = (OH_REG(f->address) & ~f->mask) | f->value;
}

void oh_set_bit(const oh_bit_t *b)
{
    OH_REG(b->address) |= 1u << b->bit;
    (void)OH_REG(b->address); /* read back: an enable takes effect a bus cycle later */
}

void oh_clear_bit(const oh_bit_t *b)
{
    OH_REG(b->address) &= ~(1u << b->bit);
}

#define GPIO_MODER   0x00u
#define GPIO_OTYPER  0x04u
#define GPIO_OSPEEDR 0x08u
#define GPIO_PUPDR   0x0Cu
#define GPIO_AFR     0x20u /* AFRL; AFRH at 0x24 */
#define GPIO_MODE_AF        2u
#define GPIO_SPEED_VERYHIGH 3u

/* HAL_GPIO_Init order: speed, output type, pull, alternate function, mode last; all
 * read-modify-write so the port's other pins (the probe's SWD pins among them) keep theirs. */
void HAL_GPIO_Init_AF(const oh_pin_t *p)
{
    uint32_t base = OH_GPIOA_BASE + OH_GPIO_STRIDE * p->port;
    uint32_t two = 2u * p->pin;
    uint32_t afr = base + GPIO_AFR + 4u * (p->pin >> 3);
    uint32_t four = 4u * (p->pin & 7u);

    OH_REG(base + GPIO_OSPEEDR) = (OH_REG(base + GPIO_OSPEEDR) & ~(3u << two))
                                  | (GPIO_SPEED_VERYHIGH << two);
    OH_REG(base + GPIO_OTYPER) &= ~(1u << p->pin);
    OH_REG(base + GPIO_PUPDR) &= ~(3u << two);
    OH_REG(afr) = (OH_REG(afr) & ~(0xFu << four)) | ((uint32_t)p->af << four);
    OH_REG(base + GPIO_MODER) = (OH_REG(base + GPIO_MODER) & ~(3u << two))
                                | (GPIO_MODE_AF << two);
}
