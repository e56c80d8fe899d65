/*
 * Peripheral clock enables and resets, the same code for every family: the register offsets
 * and bit numbers come from family.h.
 */
#include "hal.h"

void HAL_RCC_QSPI_CLK_ENABLE(void)
{
    /* The kernel clock stays on the reset choice: HCLK (H7 rcc_hclk3, G4 SYSCLK). */
    HS_REG(HS_RCC_BASE, HS_RCC_QSPI_ENR) |= 1u << HS_RCC_QSPI_BIT;
    (void)HS_REG(HS_RCC_BASE, HS_RCC_QSPI_ENR); /* read back: the enable takes a bus cycle */
}

/* Returns the controller to its reset state whatever a previous Init or application left. */
void HAL_RCC_QSPI_FORCE_RESET(void)
{
    HS_REG(HS_RCC_BASE, HS_RCC_QSPI_RSTR) |= 1u << HS_RCC_QSPI_BIT;
    HS_REG(HS_RCC_BASE, HS_RCC_QSPI_RSTR) &= ~(1u << HS_RCC_QSPI_BIT);
}

void HAL_RCC_GPIO_CLK_ENABLE(uint32_t port)
{
    HS_REG(HS_RCC_BASE, HS_RCC_GPIO_ENR) |= 1u << port;
    (void)HS_REG(HS_RCC_BASE, HS_RCC_GPIO_ENR);
}
