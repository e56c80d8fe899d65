/*
 * SPI NOR layer over the OCTOSPI/XSPI driver (the part ST's BSPs keep as *_ospi.c and CubeIDE
 * loader projects as CSP_* functions). Addresses are offsets in the controller's window.
 *
 * OH_CHIP_MODE selects the protocol the loader runs the chip in:
 *   0  quad SPI: 1-bit commands, quad page program and quad reads (W25Q, MX25L, MT25Q);
 *   1  octal STR (8S-8S-8S) and 2 octal DTR (8D-8D-8D) on Macronix OPI parts, entered from
 *      SPI by writing CR2 (octal-chips-and-kits.md §1.2).
 */
#ifndef OH_NOR_H
#define OH_NOR_H

#include "hal_ospi.h"

#define OH_MODE_QUAD    0
#define OH_MODE_OPI_STR 1
#define OH_MODE_OPI_DTR 2

/* Quad-enable methods (chip facts, as in the QUADSPI reference loader) */
#define OH_QE_NONE        0 /* no QE bit (Micron) */
#define OH_QE_SR1_BIT6    1 /* SR1 bit 6, written with a 1-byte 0x01 (Macronix, ISSI) */
#define OH_QE_SR2_BIT1_31 2 /* SR2 bit 1, read 0x35, written alone with 0x31 (Winbond JV) */
#define OH_QE_SR2_BIT1_01 3 /* SR2 bit 1, written as the 2nd byte of 0x01 */

/* 8D transfers move whole byte pairs: a 16-bit word per clock, starting at an even address. */
#define OH_NOR_UNIT (OH_CHIP_MODE == OH_MODE_OPI_DTR ? 2u : 1u)

extern OSPI_HandleTypeDef hospi;

/* loader.c: (re)initialise the controller for a memory type and DHQC setting */
HAL_StatusTypeDef MX_OCTOSPI_Init(uint32_t memory_type, uint32_t delay_hold_quarter_cycle);

HAL_StatusTypeDef nor_init(void);
HAL_StatusTypeDef nor_erase_sector(uint32_t address);
HAL_StatusTypeDef nor_erase_chip(void);
HAL_StatusTypeDef nor_program(uint32_t address, const uint8_t *data, uint32_t size);
HAL_StatusTypeDef nor_read(uint32_t address, uint8_t *data, uint32_t size);
HAL_StatusTypeDef nor_memory_mapped(void);

#endif
