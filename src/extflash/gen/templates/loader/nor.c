/* SPI NOR chip driver: reset, identification, quad enable, protection, erase and program.
 * With two chips in dual-flash mode every command reaches both chips at once; data bytes
 * alternate between them (even offsets: chip 1, odd offsets: chip 2), so register values are
 * read and written as one byte per chip, interleaved.
 *
 * An octal chip (NOR_OCTAL) leaves reset in SPI; nor_init() identifies and unprotects it there,
 * then switches it to 8S-8S-8S or 8D-8D-8D with the vendor's configuration write (read latency
 * first, then the mode: Macronix WRCR2 at CR2 0x300 and 0x0, Micron/Winbond the volatile
 * configuration register, Infineon CFR5V) and every later command is octal: a two-byte
 * instruction (opcode, then its inverse or a repeat), 4 address bytes, register reads with
 * address and dummy cycles; in 8D a status read returns the byte twice (datasheets' OPI command
 * tables; peripherals.md §7.4). */
#include "loader.h"

#if NOR_OCTAL
/* 0 while the chip is in SPI, 1 once it has switched to the octal form */
static uint32_t opi;
#define OPI_DTR(bits)  (OCTAL_DTR ? (bits) : 0u)   /* DTR on the phases of an 8D command */
/* the octal instruction form: both bytes, on 8 lines, DTR or not */
#define OCTAL_CMD(op, dtr) (CCR_IMODE(8) | CCR_OPCODE16(op) | ((dtr) ? CCR_IDTR : 0u))
#define CMD(op)        (opi ? OCTAL_CMD(op, OCTAL_DTR) : CCR_IMODE(1) | CCR_OPCODE(op))
#define DATA           (opi ? CCR_DMODE(8) | OPI_DTR(CCR_DDTR) : CCR_DMODE(1))
#define WITH_ADDR      (opi ? CCR_ADMODE(8) | CCR_ADSIZE(4) | OPI_DTR(CCR_ADDTR) \
                            : CCR_ADMODE(1) | CCR_ADSIZE(NOR_ADDR_BYTES))
#if REG_ADDR_BYTES
#define REG_ADDR       (CCR_ADMODE(8) | CCR_ADSIZE(REG_ADDR_BYTES) | OPI_DTR(CCR_ADDTR))
#else
#define REG_ADDR       0u
#endif
#define REG_READ       (opi ? REG_ADDR | CCR_DCYC(REG_DUMMY) | (OCTAL_DQS ? CCR_DQSE : 0u) : 0u)
#define REG_BYTES      (opi && OCTAL_DTR ? 2u : 1u)
#define PROGRAM_CMD    (CMD(OP_PROGRAM) | WITH_ADDR | DATA)
#else
#define CMD(op)        (CCR_IMODE(1) | CCR_OPCODE(op))
#define DATA           CCR_DMODE(1)
#define WITH_ADDR      (CCR_ADMODE(1) | CCR_ADSIZE(NOR_ADDR_BYTES))
#define REG_READ       0u
#define REG_BYTES      NOR_CHIPS
#define PROGRAM_CMD    (CMD(OP_PROGRAM) | CCR_ADMODE(PROGRAM_ADDR_LINES) \
                        | CCR_ADSIZE(NOR_ADDR_BYTES) | CCR_DMODE(PROGRAM_LINES))
#endif
#define SR_BITS(b)     ((uint32_t)(b) | (REG_BYTES == 2 ? (uint32_t)(b) << 8 : 0u))
/* data written in byte pairs: both chips of a dual-flash pair, or an 8D transfer */
#define BYTE_PAIRS     (NOR_CHIPS == 2 || (NOR_OCTAL && OCTAL_DTR))

#define OP_WREN   0x06u
#define OP_RDSR1  0x05u
#define OP_RDSR2  0x35u     /* Winbond SR2; Spansion CR1 */
#define OP_WRSR   0x01u
#define OP_WRSR2  0x31u     /* Winbond */
#define OP_RSTEN  0x66u
#define OP_RST    0x99u
#define OP_RDID   0x9Fu
#define OP_EN4B   0xB7u
#define OP_WRDI   0x04u

#define SR1_BUSY  0x01u
#define SR1_WEL   0x02u

/* SR_WRITE styles (config.h) */
#define SR_WRITE_SR1_ONLY     1   /* 0x01 <sr1> */
#define SR_WRITE_SR1_SR2      2   /* 0x01 <sr1> <sr2> */
#define SR_WRITE_SEPARATE     3   /* 0x01 <sr1>, then 0x31 <sr2> */

static int command(uint8_t op)
{
    return qspi_run(CMD(op), 0u, 0, 0u);
}

static int read_reg(uint8_t op, uint8_t *value, uint32_t bytes)
{
    return qspi_run(CMD(op) | CCR_DMODE(1) | CCR_FMODE(FMODE_READ), 0u, value, bytes * NOR_CHIPS);
}

static int wait_ready(uint32_t ms)
{
    return qspi_poll(CMD(OP_RDSR1) | REG_READ | DATA, SR_BITS(SR1_BUSY), 0u, REG_BYTES, ms);
}

static int write_enable(void)
{
    return command(OP_WREN)
        && qspi_poll(CMD(OP_RDSR1) | REG_READ | DATA, SR_BITS(SR1_WEL), SR_BITS(SR1_WEL),
                     REG_BYTES, 10u);
}

static int write_reg(uint8_t op, uint8_t *value, uint32_t bytes)
{
    return write_enable()
        && qspi_run(CMD(op) | CCR_DMODE(1) | CCR_FMODE(FMODE_WRITE), 0u, value, bytes * NOR_CHIPS)
        && wait_ready(TIMEOUT_WRSR_MS);
}

static int reset_chip(void)
{
#if NOR_HAS_RESET
#if NOR_OCTAL
    /* A chip an application or a previous loader left in 8D or 8S only decodes octal
     * instructions there; in SPI it sees garbage it ignores (as ST's BSPs reset it). */
    for (uint32_t dtr = 2u; dtr-- > 0u;) {     /* 8D, then 8S */
        qspi_run(OCTAL_CMD(OP_RSTEN, dtr), 0u, 0, 0u);
        qspi_run(OCTAL_CMD(OP_RST, dtr), 0u, 0, 0u);
    }
#endif
#if NOR_HAS_QPI
    /* First in 4-4-4 (a chip left in QPI mode by firmware), then in 1-1-1. A chip in SPI mode sees
     * only two clocks of the QPI attempt and ignores it. */
    qspi_run(CCR_IMODE(4) | CCR_OPCODE(OP_RSTEN), 0u, 0, 0u);
    qspi_run(CCR_IMODE(4) | CCR_OPCODE(OP_RST), 0u, 0, 0u);
#endif
    if (!command(OP_RSTEN) || !command(OP_RST))
        return 0;
    delay_us(RESET_US);
#endif
    return wait_ready(TIMEOUT_BLOCK_MS);    /* a reset during an erase may take a while */
}

static int check_id(void)
{
    uint8_t id[3 * NOR_CHIPS];
    if (!read_reg(OP_RDID, id, 3u))
        return 0;
    /* Only the manufacturer is checked: device variants (e.g. Winbond EF40xx/EF70xx) differ in
     * the memory-type byte and must all be accepted. */
    for (uint32_t c = 0; c < NOR_CHIPS; c++) {
        if (id[c] != NOR_MANUFACTURER)
            return 0;
    }
    return 1;
}

static int status_ok(const uint8_t *sr1, const uint8_t *sr2)
{
    for (uint32_t c = 0; c < NOR_CHIPS; c++) {
        uint8_t qe = QE_REG == 1 ? sr1[c] : sr2[c];
        if ((sr1[c] & SR1_PROTECT) || (sr2[c] & SR2_CLEAR))
            return 0;
        if (QE_REG && !(qe & QE_BIT))
            return 0;
    }
    return 1;
}

/* Clear block protection and set the quad-enable bit, the chip vendor's way. Non-volatile bits
 * are only written when they differ, to spare the status register's endurance. */
static int configure_status(void)
{
    uint8_t sr1[NOR_CHIPS], sr2[NOR_CHIPS];
    for (uint32_t c = 0; c < NOR_CHIPS; c++)
        sr2[c] = 0u;
    if (!read_reg(OP_RDSR1, sr1, 1u))
        return 0;
    if (SR_WRITE != SR_WRITE_SR1_ONLY && !read_reg(OP_RDSR2, sr2, 1u))
        return 0;
    if (status_ok(sr1, sr2))
        return 1;

    uint8_t both[2 * NOR_CHIPS];
    for (uint32_t c = 0; c < NOR_CHIPS; c++) {
        sr1[c] &= (uint8_t)~SR1_PROTECT;
        sr2[c] &= (uint8_t)~SR2_CLEAR;
        if (QE_REG == 1)
            sr1[c] |= QE_BIT;
        if (QE_REG == 2)
            sr2[c] |= QE_BIT;
        both[c] = sr1[c];
        both[NOR_CHIPS + c] = sr2[c];
    }
    int ok;
    if (SR_WRITE == SR_WRITE_SR1_SR2)
        ok = write_reg(OP_WRSR, both, 2u);
    else if (SR_WRITE == SR_WRITE_SEPARATE)
        ok = write_reg(OP_WRSR, sr1, 1u) && write_reg(OP_WRSR2, sr2, 1u);
    else
        ok = write_reg(OP_WRSR, sr1, 1u);
    if (!ok)
        return 0;

    if (!read_reg(OP_RDSR1, sr1, 1u))
        return 0;
    if (SR_WRITE != SR_WRITE_SR1_ONLY && !read_reg(OP_RDSR2, sr2, 1u))
        return 0;
    return status_ok(sr1, sr2);
}

#if NOR_OCTAL
static int write_config(uint32_t address, uint8_t value)
{
    return write_enable()
        && qspi_run(CMD(CONFIG_WRITE) | CCR_ADMODE(1) | CCR_ADSIZE(CONFIG_ADDR_BYTES) | DATA
                        | CCR_FMODE(FMODE_WRITE), address, &value, 1u)
        && wait_ready(TIMEOUT_WRSR_MS);
}

/* Read latency first (still in SPI), then the mode; from the mode write on the chip only decodes
 * octal commands. A status poll and a write enable in the new form prove the switch. */
static int enter_octal(void)
{
    if (!write_config(DUMMY_ADDRESS, DUMMY_CODE) || !write_enable())
        return 0;
    uint8_t mode = MODE_VALUE;
    if (!qspi_run(CMD(CONFIG_WRITE) | CCR_ADMODE(1) | CCR_ADSIZE(CONFIG_ADDR_BYTES) | DATA
                      | CCR_FMODE(FMODE_WRITE), MODE_ADDRESS, &mode, 1u))
        return 0;
    opi = 1u;
    return wait_ready(TIMEOUT_WRSR_MS) && write_enable() && command(OP_WRDI);
}
#endif

int nor_init(void)
{
#if NOR_OCTAL
    opi = 0u;
#endif
    if (!reset_chip() || !check_id() || !configure_status())
        return 0;
#if NOR_OCTAL
    return enter_octal();
#endif
#if NOR_ENTER_4B
    /* 3-byte chips above 16 MiB without dedicated 4-byte opcodes: switch the address mode
     * (volatile, so it is redone after every reset). Some vendors require WREN first. */
    if (!write_enable() || !command(OP_EN4B))
        return 0;
#endif
    return 1;
}

void nor_resume(void)
{
#if NOR_OCTAL
    opi = 1u;   /* nor_init ends in the octal state */
#endif
}

static int erase(uint8_t op, uint32_t offset, uint32_t ms)
{
    return write_enable() && qspi_run(CMD(op) | WITH_ADDR, offset, 0, 0u) && wait_ready(ms);
}

int nor_erase_sectors(uint32_t first, uint32_t last)
{
    uint32_t addr = first & ~(SECTOR_SIZE - 1u);
    last &= ~(SECTOR_SIZE - 1u);
    while (addr <= last && addr < FLASH_SIZE) {
#if NOR_HAS_BLOCKS
        /* a whole 64 KiB block inside the range goes in one block erase */
        if ((addr & (BLOCK_SIZE - 1u)) == 0u && last - addr >= BLOCK_SIZE - SECTOR_SIZE) {
            if (!erase(OP_ERASE_BLOCK, addr, TIMEOUT_BLOCK_MS))
                return 0;
            addr += BLOCK_SIZE;
            continue;
        }
#endif
        if (!erase(OP_ERASE_SECTOR, addr, TIMEOUT_SECTOR_MS))
            return 0;
        addr += SECTOR_SIZE;
        if (addr == 0u)     /* wrapped past the top of a 4 GiB space */
            break;
    }
    return 1;
}

int nor_erase_chip(void)
{
    return write_enable() && command(OP_ERASE_CHIP) && wait_ready(TIMEOUT_CHIP_MS);
}

/* WEL is set when the WREN frame ends (nCS rises); the datasheets' page program needs nothing
 * more. A call's first page checks it (a chip that ignores WREN in this mode fails there, not
 * silently at verify); the pages after it, in the same mode and after WIP = 0, send WREN alone
 * and do not wait for it (qspi_send): one automatic poll and one status read fewer a page, about
 * a fifth of its register accesses. */
static int program_chunk(uint32_t offset, const uint8_t *data, uint32_t size, int check_wel)
{
    return (check_wel ? write_enable() : qspi_send(CMD(OP_WREN)))
        && qspi_run(PROGRAM_CMD | CCR_FMODE(FMODE_WRITE), offset, (uint8_t *)data, size)
        && wait_ready(TIMEOUT_PAGE_MS);
}

int nor_program(uint32_t offset, const uint8_t *data, uint32_t size)
{
    for (int first = 1; size; first = 0) {
#if BYTE_PAIRS
        /* Dual-flash and 8D transfers are whole byte pairs; 0xFF leaves the other byte as is
         * (programming only clears bits). */
        if (offset & 1u) {
            uint8_t pair[2] = {0xFFu, data[0]};
            if (!program_chunk(offset - 1u, pair, 2u, first))
                return 0;
            offset++, data++, size--;
            continue;
        }
        if (size == 1u) {
            uint8_t pair[2] = {data[0], 0xFFu};
            return program_chunk(offset, pair, 2u, first);
        }
#endif
        uint32_t n = PAGE_SIZE - (offset & (PAGE_SIZE - 1u));
        if (n > size)
            n = size;
        if (BYTE_PAIRS)
            n &= ~1u;
        if (!program_chunk(offset, data, n, first))
            return 0;
        offset += n, data += n, size -= n;
    }
    return 1;
}
