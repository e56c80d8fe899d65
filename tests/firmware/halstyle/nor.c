/*
 * SPI NOR commands for the chip described by the HS_CHIP_* build flags (see build.py).
 *
 * Register reads and writes move one byte per chip: in dual-flash mode the controller
 * interleaves the two chips' bytes (chip 1 at even positions), so status polling masks and
 * matches each chip's byte, and a write can give each chip its own value.
 */
#include "nor.h"

QSPI_HandleTypeDef hqspi;

#define OP_WRITE_ENABLE 0x06u
#define OP_READ_SR1     0x05u
#define OP_READ_SR2     0x35u
#define OP_WRITE_SR     0x01u
#define OP_WRITE_SR2    0x31u
#define OP_READ_ID      0x9Fu
#define OP_RESET_ENABLE 0x66u
#define OP_RESET        0x99u
#define OP_ENTER_4B     0xB7u

#define SR1_WIP 0x01u
#define SR1_WEL 0x02u
#define SR1_QE  0x40u
#define SR2_QE  0x02u

#define ADDRESS_BITS (8u * HS_CHIP_ADDR_BYTES)
#define COMMAND_TIMEOUT_MS HAL_QSPI_TIMEOUT_DEFAULT_VALUE

/* The read's mode clocks carry M7-0 = 0xFF as one alternate byte when they add up to 8 bits:
 * that value keeps Winbond (M5-4 != 10) and Macronix (P7-4 == P3-0) parts out of continuous
 * read mode, so the next command is decoded normally. */
#define READ_MODE_BITS (HS_CHIP_READ_MODE_CLOCKS * HS_CHIP_READ_ADDR_LINES)
#if READ_MODE_BITS == 8
#define READ_ALT_LINES HS_CHIP_READ_ADDR_LINES
#define READ_DUMMY     HS_CHIP_READ_DUMMY_CLOCKS
#else
#define READ_ALT_LINES 0
#define READ_DUMMY     (HS_CHIP_READ_MODE_CLOCKS + HS_CHIP_READ_DUMMY_CLOCKS)
#endif

/* A byte pattern repeated once per chip, as the polling mask/match registers need it. */
static uint32_t per_chip(uint32_t byte)
{
    return HS_NOR_CHIPS == 2u ? (byte | (byte << 8)) : byte;
}

static void command(QSPI_CommandTypeDef *c, uint32_t opcode)
{
    c->Instruction = opcode;
    c->InstructionMode = QSPI_INSTRUCTION_LINES(1);
    c->Address = 0u;
    c->AddressMode = 0u;
    c->AddressSize = QSPI_ADDRESS_BITS(ADDRESS_BITS);
    c->AlternateBytes = 0u;
    c->AlternateByteMode = 0u;
    c->AlternateBytesSize = 0u;
    c->DummyCycles = 0u;
    c->DataMode = 0u;
    c->NbData = 0u;
    c->SIOOMode = 0u;
}

static HAL_StatusTypeDef poll_status(uint32_t mask, uint32_t match, uint32_t timeout)
{
    QSPI_CommandTypeDef c;
    QSPI_AutoPollingTypeDef cfg = {
        .Match = per_chip(match),
        .Mask = per_chip(mask),
        .Interval = 0x10u,
        .StatusBytesSize = HS_NOR_CHIPS,
        .MatchMode = 0u, /* AND: every chip must match */
    };
    command(&c, OP_READ_SR1);
    c.DataMode = QSPI_DATA_LINES(1);
    return HAL_QSPI_AutoPolling(&hqspi, &c, &cfg, timeout);
}

static HAL_StatusTypeDef wait_ready(uint32_t timeout)
{
    return poll_status(SR1_WIP, 0u, timeout);
}

static HAL_StatusTypeDef write_enable(void)
{
    QSPI_CommandTypeDef c;
    command(&c, OP_WRITE_ENABLE);
    if (HAL_QSPI_Command(&hqspi, &c, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    return poll_status(SR1_WEL, SR1_WEL, COMMAND_TIMEOUT_MS);
}

static HAL_StatusTypeDef read_register(uint32_t opcode, uint8_t *data, uint32_t bytes_per_chip)
{
    QSPI_CommandTypeDef c;
    command(&c, opcode);
    c.DataMode = QSPI_DATA_LINES(1);
    c.NbData = bytes_per_chip * HS_NOR_CHIPS;
    if (HAL_QSPI_Command(&hqspi, &c, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    return HAL_QSPI_Receive(&hqspi, data, COMMAND_TIMEOUT_MS);
}

static HAL_StatusTypeDef write_register(uint32_t opcode, const uint8_t *data,
                                        uint32_t bytes_per_chip)
{
    QSPI_CommandTypeDef c;
    if (write_enable() != HAL_OK) {
        return HAL_ERROR;
    }
    command(&c, opcode);
    c.DataMode = QSPI_DATA_LINES(1);
    c.NbData = bytes_per_chip * HS_NOR_CHIPS;
    if (HAL_QSPI_Command(&hqspi, &c, COMMAND_TIMEOUT_MS) != HAL_OK
        || HAL_QSPI_Transmit(&hqspi, data, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    return wait_ready(HS_CHIP_WRSR_MS);
}

static HAL_StatusTypeDef simple_command(uint32_t opcode, uint32_t lines)
{
    QSPI_CommandTypeDef c;
    command(&c, opcode);
    c.InstructionMode = QSPI_INSTRUCTION_LINES(lines);
    return HAL_QSPI_Command(&hqspi, &c, COMMAND_TIMEOUT_MS);
}

/* Reset in quad (QPI) and then single-line protocol: whichever mode the application left the
 * chip in, one of the two pairs reaches it; the other is an incomplete command it ignores. */
static HAL_StatusTypeDef reset_chip(void)
{
    if (simple_command(OP_RESET_ENABLE, 4) != HAL_OK || simple_command(OP_RESET, 4) != HAL_OK
        || simple_command(OP_RESET_ENABLE, 1) != HAL_OK || simple_command(OP_RESET, 1) != HAL_OK) {
        return HAL_ERROR;
    }
    HAL_Delay(1); /* tRST is tens of microseconds; HAL_Delay(1) waits at least one full tick */
    return wait_ready(COMMAND_TIMEOUT_MS);
}

static HAL_StatusTypeDef check_id(void)
{
    uint8_t id[3 * HS_NOR_CHIPS];
    if (read_register(OP_READ_ID, id, 3u) != HAL_OK) {
        return HAL_ERROR;
    }
    for (uint32_t chip = 0; chip < HS_NOR_CHIPS; chip++) {
        for (uint32_t i = 0; i < 3u; i++) {
            uint32_t expected = ((uint32_t)HS_CHIP_JEDEC_ID >> (16u - 8u * i)) & 0xFFu;
            if (id[i * HS_NOR_CHIPS + chip] != expected) {
                return HAL_ERROR;
            }
        }
    }
    return HAL_OK;
}

/* Clear the block-protect bits and set QE, writing a status register only when some chip
 * needs it: these are non-volatile writes that cost milliseconds and wear the part. */
static HAL_StatusTypeDef configure_status(void)
{
    uint8_t sr1[HS_NOR_CHIPS];
    uint8_t want1[HS_NOR_CHIPS];
    int change1 = 0;
    if (read_register(OP_READ_SR1, sr1, 1u) != HAL_OK) {
        return HAL_ERROR;
    }
    for (uint32_t chip = 0; chip < HS_NOR_CHIPS; chip++) {
        want1[chip] = sr1[chip] & (uint8_t)~HS_CHIP_PROTECT_MASK;
#if HS_CHIP_QE == HS_QE_SR1_BIT6
        want1[chip] |= SR1_QE;
#endif
        change1 |= want1[chip] != sr1[chip];
    }

#if HS_CHIP_QE == HS_QE_SR2_BIT1_31 || HS_CHIP_QE == HS_QE_SR2_BIT1_01
    uint8_t sr2[HS_NOR_CHIPS];
    int change2 = 0;
    if (read_register(OP_READ_SR2, sr2, 1u) != HAL_OK) {
        return HAL_ERROR;
    }
    for (uint32_t chip = 0; chip < HS_NOR_CHIPS; chip++) {
        change2 |= (sr2[chip] & SR2_QE) == 0u;
        sr2[chip] |= SR2_QE;
    }
#if HS_CHIP_QE == HS_QE_SR2_BIT1_01
    if (change1 || change2) {
        /* One 0x01 writes SR1 then SR2; with two chips the bytes interleave per chip. */
        uint8_t both[2 * HS_NOR_CHIPS];
        for (uint32_t chip = 0; chip < HS_NOR_CHIPS; chip++) {
            both[chip] = want1[chip];
            both[HS_NOR_CHIPS + chip] = sr2[chip];
        }
        return write_register(OP_WRITE_SR, both, 2u);
    }
    return HAL_OK;
#else
    if (change2 && write_register(OP_WRITE_SR2, sr2, 1u) != HAL_OK) {
        return HAL_ERROR;
    }
#endif
#endif
    if (change1) {
        return write_register(OP_WRITE_SR, want1, 1u);
    }
    return HAL_OK;
}

HAL_StatusTypeDef nor_init(void)
{
    if (reset_chip() != HAL_OK || check_id() != HAL_OK || configure_status() != HAL_OK) {
        return HAL_ERROR;
    }
#if HS_CHIP_ADDR_BYTES == 4
    /* Parts over 16 MiB: 4-byte addresses for every command, memory-mapped reads included.
     * Some parts (Micron) want WREN first; the others ignore it. */
    if (write_enable() != HAL_OK || simple_command(OP_ENTER_4B, 1) != HAL_OK) {
        return HAL_ERROR;
    }
#endif
    return HAL_OK;
}

HAL_StatusTypeDef nor_erase_sector(uint32_t address)
{
    QSPI_CommandTypeDef c;
    if (write_enable() != HAL_OK) {
        return HAL_ERROR;
    }
    command(&c, HS_CHIP_SECTOR_ERASE_OPCODE);
    c.AddressMode = QSPI_ADDRESS_LINES(1);
    c.Address = address;
    if (HAL_QSPI_Command(&hqspi, &c, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    return wait_ready(HS_CHIP_SECTOR_ERASE_MS);
}

HAL_StatusTypeDef nor_erase_chip(void)
{
    if (write_enable() != HAL_OK || simple_command(HS_CHIP_MASS_ERASE_OPCODE, 1) != HAL_OK) {
        return HAL_ERROR;
    }
    return wait_ready(HS_CHIP_MASS_ERASE_MS);
}

/* One page program: the caller keeps [address, address + size) inside one device page. */
HAL_StatusTypeDef nor_program(uint32_t address, const uint8_t *data, uint32_t size)
{
    QSPI_CommandTypeDef c;
    if (write_enable() != HAL_OK) {
        return HAL_ERROR;
    }
    command(&c, HS_CHIP_PROGRAM_OPCODE);
    c.AddressMode = QSPI_ADDRESS_LINES(HS_CHIP_PROGRAM_ADDR_LINES);
    c.Address = address;
    c.DataMode = QSPI_DATA_LINES(HS_CHIP_PROGRAM_DATA_LINES);
    c.NbData = size;
    if (HAL_QSPI_Command(&hqspi, &c, COMMAND_TIMEOUT_MS) != HAL_OK
        || HAL_QSPI_Transmit(&hqspi, data, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    return wait_ready(HS_CHIP_PROGRAM_MS);
}

static void read_command(QSPI_CommandTypeDef *c)
{
    command(c, HS_CHIP_READ_OPCODE);
    c->AddressMode = QSPI_ADDRESS_LINES(HS_CHIP_READ_ADDR_LINES);
    c->AlternateByteMode = QSPI_ALTERNATE_LINES(READ_ALT_LINES);
    c->AlternateBytesSize = QSPI_ALTERNATE_BITS(8u);
    c->AlternateBytes = 0xFFu;
    c->DummyCycles = READ_DUMMY;
    c->DataMode = QSPI_DATA_LINES(HS_CHIP_READ_DATA_LINES);
}

HAL_StatusTypeDef nor_read(uint32_t address, uint8_t *data, uint32_t size)
{
    QSPI_CommandTypeDef c;
    read_command(&c);
    c.Address = address;
    c.NbData = size;
    if (HAL_QSPI_Command(&hqspi, &c, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    return HAL_QSPI_Receive(&hqspi, data, COMMAND_TIMEOUT_MS);
}

HAL_StatusTypeDef nor_memory_mapped(void)
{
    QSPI_CommandTypeDef c;
    read_command(&c);
    return HAL_QSPI_MemoryMapped(&hqspi, &c);
}
