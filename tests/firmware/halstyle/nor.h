/*
 * SPI NOR driver on top of the QUADSPI HAL (the part CubeIDE loader projects keep in their
 * "quadspi.c" as CSP_QSPI_* functions). Addresses are offsets into the QUADSPI window as the
 * controller sees them: in dual-flash mode each logical byte pair spans both chips.
 */
#ifndef HS_NOR_H
#define HS_NOR_H

#include <stdint.h>

#include "hal_qspi.h"

/* Bank selection: 1, 2, or 3 = both banks in dual-flash mode. */
#if HS_QSPI_BANK == 3
#define HS_NOR_CHIPS 2u
#elif HS_QSPI_BANK == 1 || HS_QSPI_BANK == 2
#define HS_NOR_CHIPS 1u
#else
#error "HS_QSPI_BANK must be 1, 2 or 3 (dual flash)"
#endif

/* Quad-enable methods (chip facts) */
#define HS_QE_NONE        0 /* no QE bit (Micron) */
#define HS_QE_SR1_BIT6    1 /* SR1 bit 6, written with a 1-byte 0x01 (Macronix, ISSI) */
#define HS_QE_SR2_BIT1_31 2 /* SR2 bit 1, read 0x35, written alone with 0x31 (Winbond JV) */
#define HS_QE_SR2_BIT1_01 3 /* SR2 bit 1, written as the 2nd byte of 0x01 (JESD216 QER 001/100) */

/* What the host sees: both chips side by side in dual-flash mode. */
#define HS_DEVICE_SIZE   (HS_CHIP_SIZE * HS_NOR_CHIPS)
#define HS_DEVICE_PAGE   (HS_CHIP_PAGE_SIZE * HS_NOR_CHIPS)
#define HS_DEVICE_SECTOR (HS_CHIP_SECTOR_SIZE * HS_NOR_CHIPS)

extern QSPI_HandleTypeDef hqspi;

HAL_StatusTypeDef nor_init(void);
HAL_StatusTypeDef nor_erase_sector(uint32_t address);
HAL_StatusTypeDef nor_erase_chip(void);
HAL_StatusTypeDef nor_program(uint32_t address, const uint8_t *data, uint32_t size);
HAL_StatusTypeDef nor_read(uint32_t address, uint8_t *data, uint32_t size);
HAL_StatusTypeDef nor_memory_mapped(void);

#endif
