/*
 * Per-family facts the HAL-style loader needs: register block addresses, clock-enable and
 * reset bits, and the clocks the core runs on after reset. One block per family, selected by
 * -DHS_FAMILY_<H7|F7|F4|L4|G4>. Addresses and bits from the STM32H743, STM32H745_CM7,
 * STM32F446, STM32F746, STM32L476 and STM32G474 SVD files.
 */
#ifndef HS_FAMILY_H
#define HS_FAMILY_H

#if defined(HS_FAMILY_H7)
/* H742/H743/H750/H753 and dual-core H745/H747/H755/H757 (the loader runs on the M7 and uses
 * the common RCC enables, which grant the peripheral to whichever core asks). */
#define HS_RCC_BASE         0x58024400u
#define HS_PWR_BASE         0x58024800u
#define HS_FLASH_BASE       0x52002000u
#define HS_GPIO_BASE        0x58020000u
#define HS_QUADSPI_BASE     0x52005000u
#define HS_RCC_GPIO_ENR     0xE0u  /* AHB4ENR: GPIOxEN = bit x */
#define HS_RCC_QSPI_ENR     0xD4u  /* AHB3ENR */
#define HS_RCC_QSPI_RSTR    0x7Cu  /* AHB3RSTR */
#define HS_RCC_QSPI_BIT     14u
#define HS_HSI_HZ           64000000u
#define HS_RESET_CLOCK_HZ   64000000u /* HSI */

#elif defined(HS_FAMILY_F7) || defined(HS_FAMILY_F4)

#define HS_RCC_BASE         0x40023800u
#define HS_PWR_BASE         0x40007000u
#define HS_FLASH_BASE       0x40023C00u
#define HS_GPIO_BASE        0x40020000u
#define HS_QUADSPI_BASE     0xA0001000u
#define HS_RCC_GPIO_ENR     0x30u  /* AHB1ENR */
#define HS_RCC_QSPI_ENR     0x38u  /* AHB3ENR */
#define HS_RCC_QSPI_RSTR    0x18u  /* AHB3RSTR */
#define HS_RCC_QSPI_BIT     1u
#define HS_HSI_HZ           16000000u
#define HS_RESET_CLOCK_HZ   16000000u /* HSI */

#elif defined(HS_FAMILY_L4) || defined(HS_FAMILY_G4)
#define HS_RCC_BASE         0x40021000u
#define HS_PWR_BASE         0x40007000u
#define HS_FLASH_BASE       0x40022000u
#define HS_GPIO_BASE        0x48000000u
#define HS_QUADSPI_BASE     0xA0001000u
#define HS_RCC_GPIO_ENR     0x4Cu  /* AHB2ENR */
#define HS_RCC_QSPI_ENR     0x50u  /* AHB3ENR */
#define HS_RCC_QSPI_RSTR    0x30u  /* AHB3RSTR */
#define HS_RCC_QSPI_BIT     8u
#define HS_HSI_HZ           16000000u
#if defined(HS_FAMILY_L4)
#define HS_RESET_CLOCK_HZ   4000000u  /* MSI range 6 */
#else
#define HS_RESET_CLOCK_HZ   16000000u /* HSI16 */
#endif

#else
#error "define one of HS_FAMILY_H7, HS_FAMILY_F7, HS_FAMILY_F4, HS_FAMILY_L4, HS_FAMILY_G4"
#endif

#define HS_REG(base, off) (*(volatile uint32_t *)((base) + (off)))
#define HS_GPIO_PORT_STRIDE 0x400u

#endif
