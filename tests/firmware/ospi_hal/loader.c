/*
 * External loader entry points (stldr-abi.md §3) over the OCTOSPI/XSPI driver, built the way
 * a CubeIDE loader project is: Init brings up the clock tree, a 1 kHz SysTick interrupt, the
 * IO supplies, GPIOs, the controller and its IO manager, puts the chip in its protocol and
 * leaves it memory-mapped as ST's loaders do. Read goes through indirect mode; Verify and
 * CheckSum read the mapped window. Every entry point clears PRIMASK while it works and sets it
 * again before returning. All return 1 on success and 0 on failure; Verify returns 64 bits.
 */
#include "nor.h"

#define DEVICE_NOR_FLASH 3u

struct DeviceSectors {
    uint32_t SectorNum;
    uint32_t SectorSize;
};

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
    .DeviceName = OH_DEVICE_NAME,
    .DeviceType = DEVICE_NOR_FLASH,
    .DeviceStartAddress = OH_WINDOW,
    .DeviceSize = OH_CHIP_SIZE,
    .PageSize = OH_CHIP_PAGE_SIZE,
    .EraseValue = 0xFFu,
    .sectors = { { OH_CHIP_SIZE / OH_CHIP_SECTOR_SIZE, OH_CHIP_SECTOR_SIZE }, { 0u, 0u } },
};

static const oh_pin_t ospi_pins[] = { OH_PINS };
/* Clock enables (GPIO ports, IO manager, controller) and, on parts that need them, the IO
 * supply switches (VDDIO2, XSPIM port supply, high-speed-low-voltage I/O) in order. */
static const oh_bit_t io_supplies[] = { OH_IO_SUPPLIES };
static const oh_bit_t clock_enables[] = { OH_CLOCK_ENABLES };
static const oh_bit_t controller_reset = OH_CONTROLLER_RESET;

extern uint32_t _sbss, _ebss;

static void zero_bss(void)
{
    for (volatile uint32_t *p = &_sbss; p < &_ebss; p++) {
        *p = 0u;
    }
}

static void set_bits(const oh_bit_t *bits, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        if (bits[i].address != 0u) {
            oh_set_bit(&bits[i]);
        }
    }
}

static void MX_GPIO_Init(void)
{
    for (uint32_t i = 0; i < sizeof ospi_pins / sizeof ospi_pins[0]; i++) {
        HAL_GPIO_Init_AF(&ospi_pins[i]);
    }
}

HAL_StatusTypeDef MX_OCTOSPI_Init(uint32_t memory_type, uint32_t delay_hold_quarter_cycle)
{
    OSPI_InitTypeDef *in = &hospi.Init;
    HAL_OSPI_DeInit(&hospi);
    in->FifoThreshold = 4u;
    in->DualQuad = 0u;
    in->MemoryType = memory_type;
#if OH_XSPI
    in->DeviceSize = OH_DEVSIZE;               /* HAL_XSPI_SIZE_*: the raw field */
    in->ClockPrescaler = OH_CLOCK_DIVIDER - 1u; /* raw */
    in->DelayBlockBypass = 0u;                 /* no DLYBYP: XSPI calibrates itself */
#else
    in->DeviceSize = OH_DEVSIZE + 1u;          /* HAL_OSPI: address bits */
    in->ClockPrescaler = OH_CLOCK_DIVIDER;     /* the divider */
    /* Bypassed as the H7 and U5 BSPs do; at these clocks no sampling delay is needed. */
    in->DelayBlockBypass = OSPI_DCR1_DLYBYP;
#endif
    in->ChipSelectHighTime = 2u;
    in->FreeRunningClock = 0u;
    in->ClockMode = 0u;
    /* Half-cycle sample shift for 1S/4S reads (board delays); DTR requires none (RM). */
    in->SampleShifting = OH_CHIP_MODE == OH_MODE_QUAD ? OSPI_TCR_SSHIFT : 0u;
    in->DelayHoldQuarterCycle = delay_hold_quarter_cycle;
    in->ChipSelectBoundary = 0u;
    return HAL_OSPI_Init(&hospi);
}

static int leave_memory_mapped(void)
{
    return HAL_OSPI_IsMemoryMapped(&hospi) ? HAL_OSPI_Abort(&hospi) == HAL_OK : 1;
}

static int enter_memory_mapped(void)
{
    return HAL_OSPI_IsMemoryMapped(&hospi) ? 1 : nor_memory_mapped() == HAL_OK;
}

static int done(int ok)
{
    cm_set_primask(1);
    return ok;
}

int Init(void)
{
    /* Clear C_MASKINTS in case the host set it, so SysTick is taken under the debugger. */
    CORE_DHCSR = CORE_DHCSR_DBGKEY;
    zero_bss();
    SystemInit();
    cm_set_primask(0);
    if (HAL_Init() != HAL_OK || SystemClock_Config() != HAL_OK) {
        return done(0);
    }
    set_bits(io_supplies, sizeof io_supplies / sizeof io_supplies[0]);
    set_bits(clock_enables, sizeof clock_enables / sizeof clock_enables[0]);
    MX_GPIO_Init();
    hospi.Instance = (OCTOSPI_TypeDef *)OH_CONTROLLER_BASE;
    /* A previous Init (or the application) may have left the controller memory-mapped. */
    if (HAL_OSPI_Abort(&hospi) != HAL_OK) {
        return done(0);
    }
    oh_set_bit(&controller_reset);
    oh_clear_bit(&controller_reset);
    if (MX_OCTOSPI_Init(OSPI_MEMTYPE_MICRON, 0u) != HAL_OK
        || HAL_OSPIM_Config(&hospi, OSPI_TIMEOUT_DEFAULT_VALUE) != HAL_OK
        || nor_init() != HAL_OK) {
        return done(0);
    }
    return done(nor_memory_mapped() == HAL_OK);
}

/* In 8D a transfer is whole 16-bit words at even addresses: a lone first or last byte goes as
 * a word padded with 0xFF, which leaves the neighbouring flash byte as it is. */
static int program(uint32_t address, uint32_t size, const uint8_t *data)
{
    if (OH_NOR_UNIT == 2u && size != 0u && (address & 1u) != 0u) {
        uint8_t word[2] = { 0xFFu, data[0] };
        if (nor_program(address - 1u, word, 2u) != HAL_OK) {
            return 0;
        }
        address++, data++, size--;
    }
    if (OH_NOR_UNIT == 2u && (size & 1u) != 0u) {
        uint8_t word[2] = { data[size - 1u], 0xFFu };
        if (nor_program(address + size - 1u, word, 2u) != HAL_OK) {
            return 0;
        }
        size--;
    }
    while (size != 0u) {
        uint32_t chunk = OH_CHIP_PAGE_SIZE - (address % OH_CHIP_PAGE_SIZE);
        if (chunk > size) {
            chunk = size;
        }
        if (nor_program(address, data, chunk) != HAL_OK) {
            return 0;
        }
        address += chunk, data += chunk, size -= chunk;
    }
    return 1;
}

static int read(uint32_t address, uint32_t size, uint8_t *data)
{
    uint8_t word[2];
    if (OH_NOR_UNIT == 2u && size != 0u && (address & 1u) != 0u) {
        if (nor_read(address - 1u, word, 2u) != HAL_OK) {
            return 0;
        }
        *data++ = word[1];
        address++, size--;
    }
    if (OH_NOR_UNIT == 2u && (size & 1u) != 0u) {
        if (nor_read(address + size - 1u, word, 2u) != HAL_OK) {
            return 0;
        }
        data[size - 1u] = word[0];
        size--;
    }
    return size == 0u || nor_read(address, data, size) == HAL_OK;
}

/* Host addresses are window addresses; anything outside the device is refused. */
static int to_offset(uint32_t address, uint32_t size, uint32_t *offset)
{
    *offset = address - OH_WINDOW;
    return address >= OH_WINDOW && *offset <= OH_CHIP_SIZE && size <= OH_CHIP_SIZE - *offset;
}

int Write(uint32_t Address, uint32_t Size, uint8_t *buffer)
{
    uint32_t offset;
    cm_set_primask(0);
    if (!to_offset(Address, Size, &offset)) {
        return done(0);
    }
    return done(leave_memory_mapped() && program(offset, Size, buffer));
}

int Read(uint32_t Address, uint32_t Size, uint8_t *buffer)
{
    uint32_t offset;
    cm_set_primask(0);
    if (!to_offset(Address, Size, &offset)) {
        return done(0);
    }
    return done(leave_memory_mapped() && read(offset, Size, buffer));
}

/* Both bounds are inclusive sector addresses (stldr-abi.md §3). */
int SectorErase(uint32_t EraseStartAddress, uint32_t EraseEndAddress)
{
    uint32_t first, last;
    cm_set_primask(0);
    if (!to_offset(EraseStartAddress, 0u, &first) || !to_offset(EraseEndAddress, 0u, &last)) {
        return done(0);
    }
    first /= OH_CHIP_SECTOR_SIZE;
    last /= OH_CHIP_SECTOR_SIZE;
    if (first > last || last >= OH_CHIP_SIZE / OH_CHIP_SECTOR_SIZE || !leave_memory_mapped()) {
        return done(0);
    }
    for (uint32_t sector = first; sector <= last; sector++) {
        if (nor_erase_sector(sector * OH_CHIP_SECTOR_SIZE) != HAL_OK) {
            return done(0);
        }
    }
    return done(1);
}

int MassErase(uint32_t Parallelism)
{
    (void)Parallelism;
    cm_set_primask(0);
    return done(leave_memory_mapped() && nor_erase_chip() == HAL_OK);
}

static uint32_t byte_sum(uint32_t address, uint32_t size, uint32_t sum)
{
    const volatile uint8_t *p = (const volatile uint8_t *)address;
    while (size-- != 0u) {
        sum += *p++;
    }
    return sum;
}

/* Additive byte sum read through the memory-mapped window. */
uint32_t CheckSum(uint32_t StartAddress, uint32_t Size, uint32_t InitVal)
{
    cm_set_primask(0);
    if (!enter_memory_mapped()) {
        done(0);
        return InitVal;
    }
    uint32_t sum = byte_sum(StartAddress, Size, InitVal);
    done(1);
    return sum;
}

/* Size is in words; missalignement holds the skipped head (bits 3:0) and padded tail
 * (bits 19:16) byte counts. High word: the checksum as ST's loaders compute it; low word: 0
 * when all bytes match, else the address of the first difference. */
uint64_t Verify(uint32_t MemoryAddr, uint32_t RAMBufferAddr, uint32_t Size,
                uint32_t missalignement)
{
    uint32_t bytes = Size * 4u;
    uint32_t head = missalignement & 0xFu;
    uint32_t tail = (missalignement >> 16) & 0xFu;
    const volatile uint8_t *flash = (const volatile uint8_t *)MemoryAddr;
    const uint8_t *ram = (const uint8_t *)RAMBufferAddr;
    uint32_t failed = 0u;

    cm_set_primask(0);
    if (!enter_memory_mapped()) {
        done(0);
        return MemoryAddr | 1u; /* never 0: the host sees a failure */
    }
    uint32_t sum = byte_sum(MemoryAddr + head, bytes - tail, 0u);
    for (uint32_t i = 0; i < bytes; i++) {
        if (flash[i] != ram[i]) {
            failed = MemoryAddr + i;
            break;
        }
    }
    done(1);
    return ((uint64_t)sum << 32) | failed;
}
