/*
 * Register-level OCTOSPI/XSPI external loader for a quad SPI NOR (W25Q-class) on the virtual
 * boards. Every address comes from -D options (one build per board): the controller, its IO
 * manager and port, the RCC enable bits, the pins. Init leaves the flash memory-mapped (1-4-4
 * fast read), as ST's loaders do; the other entry points abort memory-mapped mode first.
 *
 * Register facts: RM0455/RM0468 (OCTOSPI), RM0477 (XSPI): FMODE in CR[29:28], the command in
 * CCR/TCR/IR/AR, start on IR (no address, no data), AR (address, no software data) or DR.
 */
#include <stdint.h>

#define REG(a) (*(volatile uint32_t *)(a))
#define REG8(a) (*(volatile uint8_t *)(a))

/* controller registers */
#define O_CR    (CTRL_BASE + 0x000u)
#define O_DCR1  (CTRL_BASE + 0x008u)
#define O_DCR2  (CTRL_BASE + 0x00Cu)
#define O_SR    (CTRL_BASE + 0x020u)
#define O_FCR   (CTRL_BASE + 0x024u)
#define O_DLR   (CTRL_BASE + 0x040u)
#define O_AR    (CTRL_BASE + 0x048u)
#define O_DR    (CTRL_BASE + 0x050u)
#define O_PSMKR (CTRL_BASE + 0x080u)
#define O_PSMAR (CTRL_BASE + 0x088u)
#define O_PIR   (CTRL_BASE + 0x090u)
#define O_CCR   (CTRL_BASE + 0x100u)
#define O_TCR   (CTRL_BASE + 0x108u)
#define O_IR    (CTRL_BASE + 0x110u)
#define O_ABR   (CTRL_BASE + 0x120u)

#define CR_EN     (1u << 0)
#define CR_ABORT  (1u << 1)
#define CR_APMS   (1u << 22)
#define CR_FMODE  (3u << 28)
#define FM_WRITE  (0u << 28)
#define FM_READ   (1u << 28)
#define FM_POLL   (2u << 28)
#define FM_MAPPED (3u << 28)
#define SR_TCF    (1u << 1)
#define SR_FTF    (1u << 2)
#define SR_SMF    (1u << 3)
#define SR_BUSY   (1u << 5)

/* CCR: xMODE 3 bits (1 line = 1, 4 lines = 3), sizes 2 bits (8 bits = 0 ... 32 bits = 3) */
#define CCR_I1      (1u << 0)
#define CCR_A(m)    ((m) << 8)
#define CCR_ADSIZE  (2u << 12) /* 24-bit address */
#define CCR_AB(m)   ((m) << 16)
#define CCR_D(m)    ((m) << 24)

#define WINDOW      0x90000000u
#define FLASH_SIZE  0x01000000u
#define SECTOR      0x10000u
#define PAGE        256u

struct DeviceSectors { uint32_t SectorNum; uint32_t SectorSize; };
struct StorageInfo {
    char DeviceName[100];
    uint16_t DeviceType;
    uint32_t DeviceStartAddress;
    uint32_t DeviceSize;
    uint32_t PageSize;
    uint8_t EraseValue;
    struct DeviceSectors sectors[10];
};
_Static_assert(sizeof(struct StorageInfo) == 200, "StorageInfo is 200 bytes");

__attribute__((section(".Dev_info"), used))
const struct StorageInfo StorageInfo = {
    .DeviceName = DEVICE_NAME, .DeviceType = 3u, .DeviceStartAddress = DEVICE_START,
    .DeviceSize = FLASH_SIZE, .PageSize = PAGE, .EraseValue = 0xFFu,
    .sectors = { { FLASH_SIZE / SECTOR, SECTOR }, { 0u, 0u } },
};

struct pin { uint32_t gpio; uint32_t number; uint32_t af; };
static const struct pin pins[] = { PINS };

static void wait_clear(uint32_t flag) { while (REG(O_SR) & flag) {} }

static void wait_tc(void)
{
    while (!(REG(O_SR) & SR_TCF)) {}
    REG(O_FCR) = SR_TCF;
}

static void abort_mode(void)
{
    if (REG(O_SR) & SR_BUSY) {
        REG(O_CR) |= CR_ABORT;
        wait_tc();
        wait_clear(SR_BUSY);
    }
}

/* HAL_OSPI_Command order: FMODE cleared, CCR, TCR, DLR, IR, AR */
static void command(uint32_t ccr, uint32_t dummy, uint32_t dl, uint32_t op)
{
    REG(O_CR) &= ~CR_FMODE;
    REG(O_CCR) = ccr;
    REG(O_TCR) = dummy;
    REG(O_DLR) = dl;
    REG(O_IR) = op;
}

static void simple(uint32_t op)
{
    command(CCR_I1, 0u, 0u, op); /* IR is the trigger: no address, no data */
    wait_tc();
}

static void poll(uint32_t mask, uint32_t match)
{
    command(CCR_I1 | CCR_D(1u), 0u, 0u, 0x05u);
    REG(O_PSMKR) = mask;
    REG(O_PSMAR) = match;
    REG(O_PIR) = 16u;
    REG(O_CR) = (REG(O_CR) & ~CR_FMODE) | CR_APMS | FM_POLL;
    REG(O_IR) = 0x05u;
    while (!(REG(O_SR) & SR_SMF)) {}
    REG(O_FCR) = SR_SMF;
}

static void write_enable(void)
{
    simple(0x06u);
    poll(0x02u, 0x02u); /* WEL */
}

static void write_sr2(uint8_t value)
{
    write_enable();
    command(CCR_I1 | CCR_D(1u), 0u, 0u, 0x31u);
    REG8(O_DR) = value;
    wait_tc();
    poll(0x01u, 0x00u);
}

static void memory_mapped(void)
{
    abort_mode();
    REG(O_CR) &= ~CR_FMODE;
    REG(O_CCR) = CCR_I1 | CCR_A(3u) | CCR_ADSIZE | CCR_AB(3u) | CCR_D(3u); /* 1-4-4, mode byte */
    REG(O_TCR) = 4u;
    REG(O_ABR) = 0xF0u; /* M7-0 != 0bxx10xxxx: no continuous read */
    REG(O_IR) = 0xEBu;
    REG(O_CR) = (REG(O_CR) & ~CR_FMODE) | FM_MAPPED;
}

int Init(void)
{
    REG(RCC_CTRL_ENR) |= RCC_CTRL_BITS;
    REG(RCC_GPIO_ENR) |= RCC_GPIO_BITS;
#ifdef PWR_SUPPLY_REG
    REG(PWR_SUPPLY_REG) |= PWR_SUPPLY_BIT; /* H7R/S: the XSPIM port I/O supply */
#endif
#ifdef XSPIM_CR
    REG(XSPIM_CR) = XSPIM_CR_VALUE;
#endif
    for (unsigned i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
        uint32_t g = pins[i].gpio, n = pins[i].number;
        REG(g + 0x20u + 4u * (n / 8u)) = (REG(g + 0x20u + 4u * (n / 8u)) & ~(0xFu << (4u * (n % 8u))))
                                        | pins[i].af << (4u * (n % 8u));
        REG(g + 0x08u) |= 3u << (2u * n); /* very high speed */
        REG(g + 0x00u) = (REG(g + 0x00u) & ~(3u << (2u * n))) | 2u << (2u * n);
    }
    abort_mode();
    REG(O_CR) = 0u;
    REG(O_DCR1) = (23u << 16) | (1u << 8); /* DEVSIZE 16 MiB, CSHT 2 cycles */
    REG(O_DCR2) = 1u;                      /* CLK = kernel / 2 */
    REG(O_CR) = (3u << 8) | CR_EN;         /* FIFO threshold 4 bytes */
    simple(0x66u);
    simple(0x99u);
    write_sr2(0x02u); /* QE */
    memory_mapped();
    return 1;
}

int SectorErase(uint32_t start, uint32_t end)
{
    abort_mode();
    for (uint32_t a = start & ~(SECTOR - 1u); a <= end; a += SECTOR) {
        write_enable();
        command(CCR_I1 | CCR_A(1u) | CCR_ADSIZE, 0u, 0u, 0xD8u);
        REG(O_AR) = a & 0x0FFFFFFFu; /* AR is the trigger */
        wait_tc();
        poll(0x01u, 0x00u);
    }
    memory_mapped();
    return 1;
}

int MassErase(uint32_t unused)
{
    (void)unused;
    abort_mode();
    write_enable();
    simple(0xC7u);
    poll(0x01u, 0x00u);
    memory_mapped();
    return 1;
}

int Write(uint32_t address, uint32_t size, uint8_t *buffer)
{
    abort_mode();
    address &= 0x0FFFFFFFu;
    while (size) {
        uint32_t n = PAGE - (address % PAGE);
        if (n > size)
            n = size;
        write_enable();
        command(CCR_I1 | CCR_A(1u) | CCR_ADSIZE | CCR_D(3u), 0u, n - 1u, 0x32u);
        REG(O_AR) = address; /* data still to come: DR is the trigger */
        for (uint32_t i = 0; i < n; i++) {
            while (!(REG(O_SR) & SR_FTF)) {}
            REG8(O_DR) = buffer[i];
        }
        wait_tc();
        poll(0x01u, 0x00u);
        address += n;
        buffer += n;
        size -= n;
    }
    memory_mapped();
    return 1;
}

int Read(uint32_t address, uint32_t size, uint8_t *buffer)
{
    abort_mode();
    command(CCR_I1 | CCR_A(3u) | CCR_ADSIZE | CCR_AB(3u) | CCR_D(3u), 4u, size - 1u, 0xEBu);
    REG(O_ABR) = 0xF0u;
    REG(O_CR) = (REG(O_CR) & ~CR_FMODE) | FM_READ;
    REG(O_AR) = address & 0x0FFFFFFFu;
    for (uint32_t i = 0; i < size; i++) {
        while (!(REG(O_SR) & (SR_FTF | SR_TCF))) {}
        buffer[i] = REG8(O_DR);
    }
    wait_tc();
    memory_mapped();
    return 1;
}

uint64_t Verify(uint32_t address, uint32_t size, uint32_t buffer, uint32_t missalign)
{
    (void)missalign;
    const uint8_t *flash = (const uint8_t *)(WINDOW + (address & 0x0FFFFFFFu));
    const uint8_t *data = (const uint8_t *)buffer;
    for (uint32_t i = 0; i < size; i++) {
        if (flash[i] != data[i])
            return ((uint64_t)data[i] << 32) | (address + i);
    }
    return address + size;
}
