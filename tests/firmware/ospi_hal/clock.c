/*
 * Clock tree: SYSCLK = HSI, every AHB prescaler /1, the OCTOSPI/XSPI kernel clock on its reset
 * choice (HCLK or SYSCLK). No PLL: the loader only needs a known, safe clock whatever the
 * application left running, and HSI needs no oscillator on the board.
 *
 * The registers and the order come from build.py (one recipe per family, each citing its
 * reference manual): raise the flash latency if HSI needs more than is set (more wait states
 * are always safe, fewer never while a faster clock still runs), start HSI, fix its divider,
 * switch SYSCLK, then reset the prescalers and the kernel-clock mux, slowest clock first.
 */
#include "hal.h"

#define CLOCK_TIMEOUT_MS 5000u /* HAL's CLOCKSWITCH_TIMEOUT_VALUE */

static const oh_field_t flash_latency = OH_FLASH_LATENCY;
static const oh_bit_t hsi_on = OH_HSI_ON;
static const oh_bit_t hsi_ready = OH_HSI_READY;
static const oh_field_t sysclk_switch = OH_SYSCLK_SWITCH;
static const oh_field_t sysclk_status = OH_SYSCLK_STATUS;
#ifdef OH_HSI_DIVIDER
static const oh_field_t hsi_divider = OH_HSI_DIVIDER;
static const oh_bit_t hsi_divider_ready = OH_HSI_DIVIDER_READY;
#endif
static const oh_field_t after_switch[] = { OH_CLOCK_AFTER_SWITCH };

static HAL_StatusTypeDef wait_bit(const oh_bit_t *b)
{
    return HAL_WaitForFlag(&OH_REG(b->address), 1u << b->bit, 1u << b->bit, CLOCK_TIMEOUT_MS);
}

HAL_StatusTypeDef SystemClock_Config(void)
{
    if (flash_latency.mask != 0u
        && (OH_REG(flash_latency.address) & flash_latency.mask) < flash_latency.value) {
        oh_set_field(&flash_latency);
    }
    oh_set_bit(&hsi_on);
    if (wait_bit(&hsi_ready) != HAL_OK) {
        return HAL_TIMEOUT;
    }
#ifdef OH_HSI_DIVIDER
    oh_set_field(&hsi_divider);
    if (wait_bit(&hsi_divider_ready) != HAL_OK) {
        return HAL_TIMEOUT;
    }
#endif
    oh_set_field(&sysclk_switch);
    if (HAL_WaitForFlag(&OH_REG(sysclk_status.address), sysclk_status.mask, sysclk_status.value,
                        CLOCK_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    for (uint32_t i = 0; i < sizeof after_switch / sizeof after_switch[0]; i++) {
        oh_set_field(&after_switch[i]);
    }
    SystemCoreClock = OH_SYSCLK_HZ;
    return HAL_InitTick(TICK_INT_PRIORITY);
}
