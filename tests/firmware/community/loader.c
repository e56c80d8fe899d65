/*
 * Community-style external loader: what most QUADSPI loaders shared on forums and GitHub
 * look like (stldr-abi.md §0, §5.6): Init, Write, Read, SectorErase and MassErase only, no
 * Verify or CheckSum, 64 KiB sectors, and Init leaves the controller in indirect mode: the
 * host reads the flash through Read, never through the memory-mapped window.
 *
 * It reuses the HAL-style driver of ../halstyle (clock tree, SysTick, GPIO, QUADSPI, NOR
 * commands); only the entry points differ. Built with -DFAULT_<NAME> it plants one defect:
 *   FAULT_ERASE_NEXT_SECTOR  SectorErase erases the sector after each one it was asked for
 *   FAULT_NO_READ            no Read either: hosts read the window, which Init leaves unmapped
 *   FAULT_WRITE_ECHO         Write also programs each chunk 1 MiB further on (an address bug
 *                            that leaves the requested bytes right)
 * and -DSOFTWARE_POLL makes MassErase poll the status register with indirect reads in a loop
 * of its own, as many hand-written loaders do, instead of the controller's automatic polling.
 * -DREAD_TAIL_TO_END makes Read end a read whose size is a multiple of 256 as some Keil-built
 * loaders do: one more indirect read with DLR=0xFFFFFFFF (read to the end of the memory), never
 * drained, then a bounded wait of 65,535 SR polls for BUSY to fall, then ABORT. On silicon the
 * read stalls once the FIFO is full (BUSY stays set) and the wait costs only its SR reads.
 */
#include "nor.h"

#define QSPI_WINDOW      0x90000000u
#define ADDRESS_MASK     0x0FFFFFFFu /* host addresses are window addresses */
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
    .DeviceName = HS_DEVICE_NAME,
    .DeviceType = DEVICE_NOR_FLASH,
    .DeviceStartAddress = QSPI_WINDOW,
    .DeviceSize = HS_DEVICE_SIZE,
    .PageSize = HS_DEVICE_PAGE,
    .EraseValue = 0xFFu,
    .sectors = { { HS_DEVICE_SIZE / HS_DEVICE_SECTOR, HS_DEVICE_SECTOR }, { 0u, 0u } },
};

static const hs_pin_t qspi_pins[] = { HS_QSPI_PINS };

extern uint32_t _sbss, _ebss;

static int finish(int ok)
{
    cm_set_primask(1); /* the host runs the next call with interrupts masked again */
    return ok;
}

static int in_device(uint32_t offset, uint32_t size)
{
    return offset <= HS_DEVICE_SIZE && size <= HS_DEVICE_SIZE - offset;
}

int Init(void)
{
    CORE_DHCSR = CORE_DHCSR_DBGKEY; /* let SysTick be taken under the debugger */
    for (volatile uint32_t *p = &_sbss; p < &_ebss; p++) {
        *p = 0u; /* nobody promised a zeroed .bss */
    }
    SystemInit();
    cm_set_primask(0);
    if (HAL_Init() != HAL_OK || SystemClock_Config() != HAL_OK) {
        return finish(0);
    }
    for (uint32_t i = 0; i < sizeof qspi_pins / sizeof qspi_pins[0]; i++) {
        HAL_RCC_GPIO_CLK_ENABLE(qspi_pins[i].port);
        HAL_GPIO_Init_AF(&qspi_pins[i]);
    }
    HAL_RCC_QSPI_CLK_ENABLE();
    hqspi.Instance = (QUADSPI_TypeDef *)HS_QUADSPI_BASE;
    if (HAL_QSPI_Abort(&hqspi) != HAL_OK) { /* a previous Init or the application */
        return finish(0);
    }
    HAL_RCC_QSPI_FORCE_RESET();
    hqspi.Init.ClockPrescaler = HS_QSPI_PRESCALER;
    hqspi.Init.FifoThreshold = 4u;
    hqspi.Init.SampleShifting = QSPI_CR_SSHIFT;
    hqspi.Init.FlashSize = HS_QSPI_FSIZE;
    hqspi.Init.ChipSelectHighTime = 1u;
    hqspi.Init.ClockMode = 0u;
    hqspi.Init.FlashID = HS_QSPI_BANK == 2 ? QSPI_CR_FSEL : 0u;
    hqspi.Init.DualFlash = HS_QSPI_BANK == 3 ? QSPI_CR_DFM : 0u;
#ifdef WAIT_TOF_NO_TCEN
    if (HAL_QSPI_Init(&hqspi) != HAL_OK || nor_init() != HAL_OK ||
        nor_memory_mapped() != HAL_OK) {
        return finish(0);
    }
    (void)*(volatile uint32_t *)QSPI_WINDOW; /* the first access starts the prefetch */
    while ((hqspi.Instance->SR & QSPI_SR_TOF) == 0u) {
    }
    return finish(1);
#else
    /* No memory-mapped mode: this loader exports Read, which is how hosts read it back. */
    return finish(HAL_QSPI_Init(&hqspi) == HAL_OK && nor_init() == HAL_OK);
#endif
}

/* Dual-flash transfers move whole byte pairs (AR[0] = 0, even length): a lone first or last
 * byte goes out as a pair with 0xFF beside it, which leaves the other chip's byte as it was. */
static int write_lone_byte(uint32_t offset, uint8_t value)
{
    uint8_t pair[2] = { 0xFFu, 0xFFu };
    pair[offset & 1u] = value;
    return nor_program(offset & ~1u, pair, 2u) == HAL_OK;
}

int Write(uint32_t Address, uint32_t Size, uint8_t *buffer)
{
    uint32_t offset = Address & ADDRESS_MASK;
    cm_set_primask(0);
    if (!in_device(offset, Size)) {
        return finish(0);
    }
    if (HS_NOR_CHIPS == 2u && Size != 0u && (offset & 1u) != 0u) {
        if (!write_lone_byte(offset, *buffer)) {
            return finish(0);
        }
        offset++, buffer++, Size--;
    }
    if (HS_NOR_CHIPS == 2u && (Size & 1u) != 0u) {
        if (!write_lone_byte(offset + Size - 1u, buffer[Size - 1u])) {
            return finish(0);
        }
        Size--;
    }
    while (Size != 0u) {
        uint32_t chunk = HS_DEVICE_PAGE - offset % HS_DEVICE_PAGE;
        chunk = chunk < Size ? chunk : Size;
        if (nor_program(offset, buffer, chunk) != HAL_OK) {
            return finish(0);
        }
#ifdef FAULT_WRITE_ECHO
        if (nor_program((offset + 0x100000u) % HS_DEVICE_SIZE, buffer, chunk) != HAL_OK) {
            return finish(0);
        }
#endif
        offset += chunk, buffer += chunk, Size -= chunk;
    }
    return finish(1);
}

#ifdef READ_TAIL_TO_END
/* The read nor_read left in CCR (FMODE=01), again from `offset`, with DLR=0xFFFFFFFF. */
static void read_tail(uint32_t offset)
{
    QUADSPI_TypeDef *q = hqspi.Instance;
    q->DLR = 0xFFFFFFFFu;
    q->AR = offset % HS_DEVICE_SIZE;
    for (uint32_t n = 65535u; n != 0u && (q->SR & QSPI_SR_BUSY) != 0u; n--) {
    }
    q->CR |= QSPI_CR_ABORT;
    while ((q->CR & QSPI_CR_ABORT) != 0u) {
    }
}
#endif

#ifndef FAULT_NO_READ
static int read_lone_byte(uint32_t offset, uint8_t *value)
{
    uint8_t pair[2];
    if (nor_read(offset & ~1u, pair, 2u) != HAL_OK) {
        return 0;
    }
    *value = pair[offset & 1u];
    return 1;
}

int Read(uint32_t Address, uint32_t Size, uint8_t *buffer)
{
    uint32_t offset = Address & ADDRESS_MASK;
    cm_set_primask(0);
    if (!in_device(offset, Size)) {
        return finish(0);
    }
    if (HS_NOR_CHIPS == 2u && Size != 0u && (offset & 1u) != 0u) {
        if (!read_lone_byte(offset, buffer)) {
            return finish(0);
        }
        offset++, buffer++, Size--;
    }
    if (HS_NOR_CHIPS == 2u && (Size & 1u) != 0u) {
        if (!read_lone_byte(offset + Size - 1u, &buffer[Size - 1u])) {
            return finish(0);
        }
        Size--;
    }
    if (Size != 0u && nor_read(offset, buffer, Size) != HAL_OK) {
        return finish(0);
    }
#ifdef READ_TAIL_TO_END
    if (Size != 0u && Size % 256u == 0u) {
        read_tail(offset + Size);
    }
#endif
    return finish(1);
}
#endif

/* Both bounds are inclusive sector addresses (stldr-abi.md §3). */
int SectorErase(uint32_t EraseStartAddress, uint32_t EraseEndAddress)
{
    uint32_t first = (EraseStartAddress & ADDRESS_MASK) / HS_DEVICE_SECTOR;
    uint32_t last = (EraseEndAddress & ADDRESS_MASK) / HS_DEVICE_SECTOR;
    cm_set_primask(0);
    if (first > last || last >= HS_DEVICE_SIZE / HS_DEVICE_SECTOR) {
        return finish(0);
    }
    for (uint32_t sector = first; sector <= last; sector++) {
#ifdef FAULT_ERASE_NEXT_SECTOR
        uint32_t target = (sector + 1u) % (HS_DEVICE_SIZE / HS_DEVICE_SECTOR);
#else
        uint32_t target = sector;
#endif
        if (nor_erase_sector(target * HS_DEVICE_SECTOR) != HAL_OK) {
            return finish(0);
        }
    }
    return finish(1);
}

#ifdef SOFTWARE_POLL
static HAL_StatusTypeDef instruction(uint32_t opcode, uint32_t read_bytes, uint8_t *data)
{
    QSPI_CommandTypeDef c = {
        .Instruction = opcode,
        .InstructionMode = QSPI_INSTRUCTION_LINES(1),
        .DataMode = read_bytes ? QSPI_DATA_LINES(1) : 0u,
        .NbData = read_bytes,
    };
    HAL_StatusTypeDef status = HAL_QSPI_Command(&hqspi, &c, HAL_QSPI_TIMEOUT_DEFAULT_VALUE);
    if (status != HAL_OK || read_bytes == 0u) {
        return status;
    }
    return HAL_QSPI_Receive(&hqspi, data, HAL_QSPI_TIMEOUT_DEFAULT_VALUE);
}

/* Write enable, chip erase, then read SR1 until WIP (bit 0) clears: no timeout, as in the
 * loaders this models (the chip's own maximum bounds the loop). */
static int erase_chip(void)
{
    uint8_t sr1 = 0u;
    if (instruction(0x06u, 0u, 0) != HAL_OK ||
        instruction(HS_CHIP_MASS_ERASE_OPCODE, 0u, 0) != HAL_OK) {
        return 0;
    }
    do {
        if (instruction(0x05u, 1u, &sr1) != HAL_OK) {
            return 0;
        }
    } while (sr1 & 0x01u);
    return 1;
}
#else
static int erase_chip(void)
{
    return nor_erase_chip() == HAL_OK;
}
#endif

int MassErase(uint32_t Parallelism)
{
    (void)Parallelism;
    cm_set_primask(0);
    return finish(erase_chip());
}
