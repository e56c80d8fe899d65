/*
 * SPI NOR commands for the chip the OH_CHIP_* flags describe (see build.py and nor.h).
 *
 * Octal Macronix facts (peripherals.md §7.4, octal-chips-and-kits.md §1): in OPI every opcode
 * is two bytes, the opcode then its inverse; addresses are always 4 bytes on 8 lines; register
 * reads take 4 dummy cycles in STR and OH_CHIP_REG_DUMMY in DTR, where status reads return 2
 * bytes and need DQS; array reads take the dummy count programmed in CR2 at 0x300 (DC).
 */
#include "nor.h"

OSPI_HandleTypeDef hospi;

#define OP_WRITE_ENABLE 0x06u
#define OP_READ_SR1     0x05u
#define OP_READ_SR2     0x35u
#define OP_WRITE_SR     0x01u
#define OP_WRITE_SR2    0x31u
#define OP_READ_ID      0x9Fu
#define OP_RESET_ENABLE 0x66u
#define OP_RESET        0x99u
#define OP_ENTER_4B     0xB7u
#define OP_READ_CR2     0x71u
#define OP_WRITE_CR2    0x72u

#define SR1_WIP 0x01u
#define SR1_WEL 0x02u
#define SR1_QE  0x40u
#define SR2_QE  0x02u

#define CR2_MODE_ADDRESS  0x00000000u
#define CR2_DUMMY_ADDRESS 0x00000300u
#define CR2_SOPI 0x01u
#define CR2_DOPI 0x02u

/* Fault switches (tests/diagnose/test_octal.py): each -DOH_FAULT_<NAME>=1 builds the loader
 * with one protocol mistake real drivers make, for the diagnostics to name. */
#ifndef OH_FAULT_STR_IN_DTR
#define OH_FAULT_STR_IN_DTR 0   /* instruction phase STR (IDTR=0) while the chip is in 8D */
#endif
#ifndef OH_FAULT_SPI_WREN
#define OH_FAULT_SPI_WREN 0     /* WRITE ENABLE on 1 line while the chip is in OPI */
#endif
#ifndef OH_FAULT_READ_DUMMY
#define OH_FAULT_READ_DUMMY 0   /* array reads with 2 dummy cycles fewer than CR2 DC sets */
#endif
#ifndef OH_FAULT_REG_DUMMY
#define OH_FAULT_REG_DUMMY 0    /* 8D register reads with one dummy cycle fewer than the chip's */
#endif
#ifndef OH_FAULT_NO_DQS
#define OH_FAULT_NO_DQS 0       /* 8D array reads without DQSE */
#endif
#ifndef OH_FAULT_MAPPED_OPCODE
#define OH_FAULT_MAPPED_OPCODE 0 /* memory-mapped reads with the other octal state's opcode */
#endif

#ifndef OH_FAULT_NO_TIMEOUT
#define OH_FAULT_NO_TIMEOUT 0   /* waits for the controller's flags without a timeout */
#endif

#if OH_FAULT_NO_TIMEOUT
#define COMMAND_TIMEOUT_MS HAL_MAX_DELAY
#else
#define COMMAND_TIMEOUT_MS OSPI_TIMEOUT_DEFAULT_VALUE
#endif
#define RESET_TIME_MS      100u /* worst case: a reset that interrupts an erase (ST drivers) */

/* The protocol the chip is in now: it leaves reset in SPI, whatever the loader runs it in. */
static uint32_t mode = OH_MODE_QUAD;

static int octal(void)
{
    return mode != OH_MODE_QUAD;
}

static int dtr(void)
{
    return mode == OH_MODE_OPI_DTR;
}

static void command(OSPI_RegularCmdTypeDef *c, uint32_t opcode)
{
    *c = (OSPI_RegularCmdTypeDef){ .OperationType = OSPI_OPTYPE_COMMON_CFG };
    if (octal()) {
        c->Instruction = (opcode << 8) | (~opcode & 0xFFu);
        c->InstructionMode = OSPI_INSTRUCTION_LINES(8);
        c->InstructionSize = OSPI_INSTRUCTION_BITS(16);
        c->InstructionDtrMode = (dtr() && !OH_FAULT_STR_IN_DTR) ? OSPI_CCR_IDTR : 0u;
    } else {
        c->Instruction = opcode;
        c->InstructionMode = OSPI_INSTRUCTION_LINES(1);
        c->InstructionSize = OSPI_INSTRUCTION_BITS(8);
    }
}

static void with_address(OSPI_RegularCmdTypeDef *c, uint32_t address, uint32_t lines,
                         uint32_t bits)
{
    c->Address = address;
    if (octal()) {
        c->AddressMode = OSPI_ADDRESS_LINES(8);
        c->AddressSize = OSPI_ADDRESS_BITS(32);
        c->AddressDtrMode = dtr() ? OSPI_CCR_ADDTR : 0u;
    } else {
        c->AddressMode = OSPI_ADDRESS_LINES(lines);
        c->AddressSize = OSPI_ADDRESS_BITS(bits);
    }
}

static void with_data(OSPI_RegularCmdTypeDef *c, uint32_t size, uint32_t lines)
{
    c->NbData = size;
    c->DataMode = octal() ? OSPI_DATA_LINES(8) : OSPI_DATA_LINES(lines);
    c->DataDtrMode = dtr() ? OSPI_CCR_DDTR : 0u;
}

/* A register read (status, ID, CR2): OPI adds a 4-byte address 0 and dummy cycles, DTR also
 * reads two bytes with DQS. */
static void register_read(OSPI_RegularCmdTypeDef *c, uint32_t opcode, uint32_t address,
                          uint32_t size)
{
    command(c, opcode);
    if (octal()) {
        with_address(c, address, 8u, 32u);
        c->DummyCycles = dtr() ? OH_CHIP_REG_DUMMY - (OH_FAULT_REG_DUMMY ? 1u : 0u) : 4u;
        c->DQSMode = dtr() ? OSPI_CCR_DQSE : 0u;
    }
    with_data(c, dtr() ? 2u : size, 1u);
}

static HAL_StatusTypeDef poll_status(uint32_t mask, uint32_t match, uint32_t timeout)
{
    OSPI_RegularCmdTypeDef c;
    const OSPI_AutoPollingTypeDef cfg = {
        .Match = match,
        .Mask = mask,
        .MatchMode = 0u,
        .AutomaticStop = OSPI_CR_APMS,
        .Interval = 0x10u,
    };
    register_read(&c, OP_READ_SR1, 0u, 1u);
    if (HAL_OSPI_Command(&hospi, &c, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    return HAL_OSPI_AutoPolling(&hospi, &cfg, timeout);
}

static HAL_StatusTypeDef wait_ready(uint32_t timeout)
{
    return poll_status(SR1_WIP, 0u, timeout);
}

static HAL_StatusTypeDef simple_command(uint32_t opcode)
{
    OSPI_RegularCmdTypeDef c;
    command(&c, opcode);
    return HAL_OSPI_Command(&hospi, &c, COMMAND_TIMEOUT_MS);
}

static HAL_StatusTypeDef write_enable(void)
{
#if OH_FAULT_SPI_WREN
    OSPI_RegularCmdTypeDef c = { .OperationType = OSPI_OPTYPE_COMMON_CFG,
                                 .Instruction = OP_WRITE_ENABLE,
                                 .InstructionMode = OSPI_INSTRUCTION_LINES(1),
                                 .InstructionSize = OSPI_INSTRUCTION_BITS(8) };
    if (HAL_OSPI_Command(&hospi, &c, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
#else
    if (simple_command(OP_WRITE_ENABLE) != HAL_OK) {
        return HAL_ERROR;
    }
#endif
    return poll_status(SR1_WEL, SR1_WEL, COMMAND_TIMEOUT_MS);
}

static HAL_StatusTypeDef read_register(uint32_t opcode, uint32_t address, uint8_t *data,
                                       uint32_t size)
{
    OSPI_RegularCmdTypeDef c;
    register_read(&c, opcode, address, size);
    if (HAL_OSPI_Command(&hospi, &c, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    return HAL_OSPI_Receive(&hospi, data, COMMAND_TIMEOUT_MS);
}

#if OH_CHIP_MODE == OH_MODE_QUAD
/* A quad part an application left in QPI (4-4-4) only decodes 4-line opcodes. */
static HAL_StatusTypeDef reset_from_qpi(void)
{
    static const uint8_t opcodes[] = { OP_RESET_ENABLE, OP_RESET };
    for (uint32_t i = 0; i < sizeof opcodes; i++) {
        OSPI_RegularCmdTypeDef c;
        command(&c, opcodes[i]);
        c.InstructionMode = OSPI_INSTRUCTION_LINES(4);
        if (HAL_OSPI_Command(&hospi, &c, COMMAND_TIMEOUT_MS) != HAL_OK) {
            return HAL_ERROR;
        }
    }
    return HAL_OK;
}
#endif

/* Reset enable + reset in each protocol the chip may have been left in by an application or
 * an earlier loader (QPI or SPI for quad parts; SPI, 8S and 8D for octal ones, as ST's BSPs
 * do): the one it is in takes effect, the others are garbage it ignores. */
static HAL_StatusTypeDef reset_chip(void)
{
    static const uint32_t protocols[] = {
        OH_MODE_QUAD,
#if OH_CHIP_MODE != OH_MODE_QUAD
        OH_MODE_OPI_STR, OH_MODE_OPI_DTR,
#endif
    };
#if OH_CHIP_MODE == OH_MODE_QUAD
    if (reset_from_qpi() != HAL_OK) {
        return HAL_ERROR;
    }
#endif
    for (uint32_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++) {
        mode = protocols[i];
        if (simple_command(OP_RESET_ENABLE) != HAL_OK || simple_command(OP_RESET) != HAL_OK) {
            mode = OH_MODE_QUAD;
            return HAL_ERROR;
        }
    }
    mode = OH_MODE_QUAD;
    HAL_Delay(1); /* tRST: tens of microseconds when no erase was running */
    return wait_ready(RESET_TIME_MS);
}

static HAL_StatusTypeDef check_id(void)
{
    uint8_t id[3];
    if (read_register(OP_READ_ID, 0u, id, 3u) != HAL_OK) {
        return HAL_ERROR;
    }
    for (uint32_t i = 0; i < 3u; i++) {
        if (id[i] != (((uint32_t)OH_CHIP_JEDEC_ID >> (16u - 8u * i)) & 0xFFu)) {
            return HAL_ERROR;
        }
    }
    return HAL_OK;
}

static HAL_StatusTypeDef write_register(uint32_t opcode, int has_address, uint32_t address,
                                        const uint8_t *data, uint32_t size)
{
    OSPI_RegularCmdTypeDef c;
    if (write_enable() != HAL_OK) {
        return HAL_ERROR;
    }
    command(&c, opcode);
    if (has_address) {
        with_address(&c, address, 1u, 32u); /* CR2 addresses are 4 bytes in every mode */
    }
    with_data(&c, size, 1u);
    if (HAL_OSPI_Command(&hospi, &c, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    return HAL_OSPI_Transmit(&hospi, data, COMMAND_TIMEOUT_MS);
}

#if OH_CHIP_MODE == OH_MODE_QUAD
/* Clear the block-protect bits and set QE, writing a status register only when needed:
 * these are non-volatile writes that cost milliseconds and wear the part. */
static HAL_StatusTypeDef configure_status(void)
{
    uint8_t sr1, sr2 = 0u;
    if (read_register(OP_READ_SR1, 0u, &sr1, 1u) != HAL_OK) {
        return HAL_ERROR;
    }
    uint8_t want1 = sr1 & (uint8_t)~OH_CHIP_PROTECT_MASK;
#if OH_CHIP_QE == OH_QE_SR1_BIT6
    want1 |= SR1_QE;
#elif OH_CHIP_QE == OH_QE_SR2_BIT1_31 || OH_CHIP_QE == OH_QE_SR2_BIT1_01
    if (read_register(OP_READ_SR2, 0u, &sr2, 1u) != HAL_OK) {
        return HAL_ERROR;
    }
#endif
    int change2 = (OH_CHIP_QE == OH_QE_SR2_BIT1_31 || OH_CHIP_QE == OH_QE_SR2_BIT1_01)
                  && (sr2 & SR2_QE) == 0u;
    sr2 |= SR2_QE;
#if OH_CHIP_QE == OH_QE_SR2_BIT1_01
    if (want1 != sr1 || change2) {
        uint8_t both[2] = { want1, sr2 };
        return write_register(OP_WRITE_SR, 0, 0u, both, 2u) == HAL_OK
                   ? wait_ready(OH_CHIP_WRSR_MS) : HAL_ERROR;
    }
    return HAL_OK;
#else
    if (change2 && (write_register(OP_WRITE_SR2, 0, 0u, &sr2, 1u) != HAL_OK
                    || wait_ready(OH_CHIP_WRSR_MS) != HAL_OK)) {
        return HAL_ERROR;
    }
    if (want1 != sr1 && (write_register(OP_WRITE_SR, 0, 0u, &want1, 1u) != HAL_OK
                         || wait_ready(OH_CHIP_WRSR_MS) != HAL_OK)) {
        return HAL_ERROR;
    }
    return HAL_OK;
#endif
}

static HAL_StatusTypeDef enter_protocol(void)
{
    if (configure_status() != HAL_OK) {
        return HAL_ERROR;
    }
#if OH_CHIP_ADDR_BYTES == 4
    /* Parts over 16 MiB: 4-byte addresses everywhere, memory-mapped reads included. Micron
     * wants WREN first; the others ignore it. */
    if (write_enable() != HAL_OK || simple_command(OP_ENTER_4B) != HAL_OK) {
        return HAL_ERROR;
    }
#endif
    return HAL_OK;
}
#else
/* The BSP's EnterDOPIMode/EnterSOPIMode: DC first (while still in SPI), then the mode bit;
 * from then on the chip only understands OPI, so the controller follows before the check. */
static HAL_StatusTypeDef enter_protocol(void)
{
#if OH_CHIP_MODE == OH_MODE_OPI_DTR
    const uint8_t opi = CR2_DOPI;
    const uint32_t memory_type = OSPI_MEMTYPE_MACRONIX; /* D1/D0 byte order in DTR */
    const uint32_t dhqc = OSPI_TCR_DHQC;
#else
    const uint8_t opi = CR2_SOPI;
    const uint32_t memory_type = OSPI_MEMTYPE_MICRON;
    const uint32_t dhqc = 0u;
#endif
    const uint8_t dummy_code = OH_CHIP_DC_CODE;
    uint8_t cr2[2];
    if (write_register(OP_WRITE_CR2, 1, CR2_DUMMY_ADDRESS, &dummy_code, 1u) != HAL_OK
        || wait_ready(OH_CHIP_WRSR_MS) != HAL_OK
        || write_register(OP_WRITE_CR2, 1, CR2_MODE_ADDRESS, &opi, 1u) != HAL_OK) {
        return HAL_ERROR;
    }
    mode = OH_CHIP_MODE;
    if (MX_OCTOSPI_Init(memory_type, dhqc) != HAL_OK || wait_ready(OH_CHIP_WRSR_MS) != HAL_OK
        || read_register(OP_READ_CR2, CR2_MODE_ADDRESS, cr2, 1u) != HAL_OK) {
        return HAL_ERROR;
    }
    return cr2[0] == opi ? HAL_OK : HAL_ERROR;
}
#endif

HAL_StatusTypeDef nor_init(void)
{
    if (reset_chip() != HAL_OK || check_id() != HAL_OK) {
        return HAL_ERROR;
    }
    return enter_protocol();
}

static void addressed(OSPI_RegularCmdTypeDef *c, uint32_t opcode, uint32_t address,
                      uint32_t lines)
{
    command(c, opcode);
    with_address(c, address, lines, 8u * OH_CHIP_ADDR_BYTES);
}

HAL_StatusTypeDef nor_erase_sector(uint32_t address)
{
    OSPI_RegularCmdTypeDef c;
    if (write_enable() != HAL_OK) {
        return HAL_ERROR;
    }
    addressed(&c, OH_CHIP_SECTOR_ERASE_OPCODE, address, 1u);
    if (HAL_OSPI_Command(&hospi, &c, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    return wait_ready(OH_CHIP_SECTOR_ERASE_MS);
}

HAL_StatusTypeDef nor_erase_chip(void)
{
    if (write_enable() != HAL_OK || simple_command(OH_CHIP_MASS_ERASE_OPCODE) != HAL_OK) {
        return HAL_ERROR;
    }
    return wait_ready(OH_CHIP_MASS_ERASE_MS);
}

/* One page program: the caller keeps [address, address + size) inside one page. Writes go
 * without DQS, as ST's octal drivers send them. */
HAL_StatusTypeDef nor_program(uint32_t address, const uint8_t *data, uint32_t size)
{
    OSPI_RegularCmdTypeDef c;
    if (write_enable() != HAL_OK) {
        return HAL_ERROR;
    }
    addressed(&c, OH_CHIP_PROGRAM_OPCODE, address, OH_CHIP_PROGRAM_ADDR_LINES);
    with_data(&c, size, OH_CHIP_PROGRAM_DATA_LINES);
    if (HAL_OSPI_Command(&hospi, &c, COMMAND_TIMEOUT_MS) != HAL_OK
        || HAL_OSPI_Transmit(&hospi, data, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    return wait_ready(OH_CHIP_PROGRAM_MS);
}

/* Quad reads send the mode bits M7-0 = 0xFF as one alternate byte when they fill 8 bits: that
 * keeps Winbond (M5-4 != 10) and Macronix (P7-4 == P3-0) parts out of continuous-read mode. */
#define READ_MODE_BITS (OH_CHIP_READ_MODE_CLOCKS * OH_CHIP_READ_ADDR_LINES)

static void read_command(OSPI_RegularCmdTypeDef *c, uint32_t address, uint32_t size)
{
    addressed(c, OH_CHIP_READ_OPCODE, address, OH_CHIP_READ_ADDR_LINES);
    with_data(c, size, OH_CHIP_READ_DATA_LINES);
    c->DummyCycles = OH_CHIP_READ_MODE_CLOCKS + OH_CHIP_READ_DUMMY_CLOCKS
                     - (OH_FAULT_READ_DUMMY ? 2u : 0u);
    if (!octal() && READ_MODE_BITS == 8) {
        c->AlternateBytes = 0xFFu;
        c->AlternateBytesMode = OSPI_ALTERNATE_LINES(OH_CHIP_READ_ADDR_LINES);
        c->AlternateBytesSize = OSPI_ALTERNATE_BITS(8u);
        c->DummyCycles = OH_CHIP_READ_DUMMY_CLOCKS;
    }
    /* 8D data is sampled on the chip's DQS */
    c->DQSMode = (dtr() && !OH_FAULT_NO_DQS) ? OSPI_CCR_DQSE : 0u;
}

HAL_StatusTypeDef nor_read(uint32_t address, uint8_t *data, uint32_t size)
{
    OSPI_RegularCmdTypeDef c;
    read_command(&c, address, size);
    if (HAL_OSPI_Command(&hospi, &c, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    return HAL_OSPI_Receive(&hospi, data, COMMAND_TIMEOUT_MS);
}

/* Read configuration, then the write configuration (WCCR/WTCR/WIR) as ST's BSPs set it for a
 * complete memory-mapped set-up; DTR keeps DQSE in both, as they do. No timeout counter: nCS
 * stays low while the prefetch waits, which the host's reads of the window expect. */
HAL_StatusTypeDef nor_memory_mapped(void)
{
    OSPI_RegularCmdTypeDef c;
    const OSPI_MemoryMappedTypeDef cfg = { .TimeOutActivation = 0u, .TimeOutPeriod = 0u };
    read_command(&c, 0u, 1u);
#if OH_FAULT_MAPPED_OPCODE
    /* the other octal state's read: 8READ (EC13h) in 8D, 8DTRD (EE11h) in 8S */
    c.Instruction = dtr() ? 0xEC13u : 0xEE11u;
#endif
    c.OperationType = OSPI_OPTYPE_READ_CFG;
    if (HAL_OSPI_Command(&hospi, &c, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    addressed(&c, OH_CHIP_PROGRAM_OPCODE, 0u, OH_CHIP_PROGRAM_ADDR_LINES);
    with_data(&c, 1u, OH_CHIP_PROGRAM_DATA_LINES);
    c.OperationType = OSPI_OPTYPE_WRITE_CFG;
    c.DQSMode = dtr() ? OSPI_CCR_DQSE : 0u;
    if (HAL_OSPI_Command(&hospi, &c, COMMAND_TIMEOUT_MS) != HAL_OK) {
        return HAL_ERROR;
    }
    return HAL_OSPI_MemoryMapped(&hospi, &cfg);
}
