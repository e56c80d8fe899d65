/*
 * A small register-level external loader for an STM32H743 with a W25Q128JV on QUADSPI bank 1
 * (NUCLEO-H743ZI wiring: CLK PB2, NCS PB6, IO0..IO3 PD11, PD12, PE2, PD13), written to be broken
 * on purpose. Built without options it is a working loader; each -DFAULT_<NAME> plants one
 * defect seen in real loaders, so the diagnostics can be tested against a known cause:
 *
 *   FAULT_PLL_NOT_ENABLED   Init configures PLL1 but never sets PLL1ON, then waits for PLL1RDY
 *   FAULT_WRONG_NCS         NCS routed to PB10 (AF9), but the board's chip sits on PB6
 *   FAULT_NO_ID_CHECK       Init does not read the JEDEC ID (so a dead bus goes unnoticed)
 *   FAULT_SYSTICK_MASKED    HAL_Delay waits for SysTick interrupts after __disable_irq()
 *   FAULT_OTHER_H7          writes the OCTOSPIM of an H72x/H73x part (absent on an H743)
 *   FAULT_ID_QUAD_LINES     reads the JEDEC ID with a 4-line opcode (chip is in SPI mode)
 *   FAULT_NO_WREN           page program without write enable
 *   FAULT_NO_PAGE_SPLIT     Write does not split at 256-byte page boundaries
 *   FAULT_STACK_HOG         Write keeps a 1.5 KiB scratch copy on the stack
 *   FAULT_NOT_MAPPED        Init and the erase/write calls never enter memory-mapped mode
 *   FAULT_WRONG_DUMMY       memory-mapped reads with 6 dummy clocks (the chip needs 4)
 *   FAULT_STRAY_WRITE       Write keeps a counter at a fixed RAM address outside its image
 *   FAULT_INIT_NO_ABORT     Init reprograms the QUADSPI without leaving memory-mapped mode
 *   FAULT_ERASE_END_EXCL    SectorErase treats its end address as exclusive
 *   FAULT_SIZE_HALF         StorageInfo claims 8 MiB for the 16 MiB chip
 *   FAULT_QSPI_CLOCK_OFF    the QUADSPI clock is never enabled in RCC
 *   FAULT_TIMER_DELAY       the reset delay waits for a TIM6 update flag
 *   FAULT_NO_WAIT           Write does not wait for the page program to finish (WIP)
 *   FAULT_READ_DUMMY        indirect reads (0x0B) with 6 dummy clocks (the chip needs 8)
 *
 * WITH_FAULT_HANDLER installs Default_Handler (an endless loop) for HardFault and the
 * configurable faults, as CubeIDE template builds do. WITH_IT_MEMSET clears verify_copy in Init
 * with a memset whose stores sit in an IT block (subs; it cs; stmdbcs; bhi), the shape of
 * newlib's and Keil's memset tails. LOG_SR keeps each data loop turn's SR value (FIFO level and
 * all) in RAM: a loop that uses every bit of what it reads. COMPARE_HIGH_BITS compares each byte
 * read back with its buffer's without bit 0 (each shifted right once).
 */
#include <stdint.h>

#include "cortexm.h"
#include "stm32_quadspi.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

/* RM0433: RCC, GPIO and QUADSPI of the STM32H743 */
#define RCC_BASE        0x58024400u
#define RCC_CR          REG(RCC_BASE + 0x00u)
#define RCC_CFGR        REG(RCC_BASE + 0x10u)
#define RCC_D1CFGR      REG(RCC_BASE + 0x18u)
#define RCC_PLLCKSELR   REG(RCC_BASE + 0x28u)
#define RCC_PLLCFGR     REG(RCC_BASE + 0x2Cu)
#define RCC_PLL1DIVR    REG(RCC_BASE + 0x30u)
#define RCC_AHB3ENR     REG(RCC_BASE + 0xD4u)
#define RCC_AHB4ENR     REG(RCC_BASE + 0xE0u)
#define RCC_APB1LENR    REG(RCC_BASE + 0xE8u)
#define RCC_CR_PLL1ON   (1u << 24)
#define RCC_CR_PLL1RDY  (1u << 25)
#define RCC_AHB3ENR_QSPIEN (1u << 14)

#define GPIO_BASE(port) (0x58020000u + 0x400u * (uint32_t)((port) - 'A'))
#define QSPI ((QUADSPI_TypeDef *)0x52005000u)
#define OCTOSPIM_CR REG(0x5200B400u)
#define WINDOW 0x90000000u

#define FLASH_SIZE  0x01000000u
#define PAGE_SIZE   256u
#define SECTOR_SIZE 0x1000u

#define CCR(fmode, imode, admode, dmode, opcode)                                     \
    (((uint32_t)(fmode) << QSPI_CCR_FMODE_POS) | ((uint32_t)(imode) << QSPI_CCR_IMODE_POS) | \
     ((uint32_t)(admode) << QSPI_CCR_ADMODE_POS) | ((uint32_t)(dmode) << QSPI_CCR_DMODE_POS) | \
     (QSPI_SIZE_24 << QSPI_CCR_ADSIZE_POS) | (uint32_t)(opcode))
#define W QSPI_FMODE_INDIRECT_WRITE
#define R QSPI_FMODE_INDIRECT_READ
#define L0 QSPI_LINES_NONE
#define L1 QSPI_LINES_1
#define L4 QSPI_LINES_4

#ifdef FAULT_WRONG_DUMMY
#define MAPPED_DUMMY 6u
#else
#define MAPPED_DUMMY 4u
#endif

struct SectorInfo {
    uint32_t count;
    uint32_t size;
};

struct StorageInfo {
    char name[100];
    uint16_t type;
    uint32_t start;
    uint32_t size;
    uint32_t page_size;
    uint8_t erase_value;
    struct SectorInfo sectors[10];
};

#ifdef FAULT_SIZE_HALF
#define CLAIMED_SIZE (FLASH_SIZE / 2u)
#else
#define CLAIMED_SIZE FLASH_SIZE
#endif

__attribute__((used, section(".storage_info")))
const struct StorageInfo StorageInfo = {
    "W25Q128JV_NUCLEO-H743ZI_faulty", 3u, WINDOW, CLAIMED_SIZE, PAGE_SIZE, 0xFFu,
    {{CLAIMED_SIZE / SECTOR_SIZE, SECTOR_SIZE}, {0u, 0u}},
};

/* Loaders keep a little state and a scratch buffer in .bss. */
static uint8_t verify_copy[2048];
static uint32_t calls;

/* -- time ------------------------------------------------------------------------------------ */

static volatile uint32_t uwTick;

void SysTick_Handler(void) { uwTick++; }
void Default_Handler(void) { for (;;) {} }

/* Only some loaders install fault handlers (which turn a fault into a hang). */
#ifdef WITH_FAULT_HANDLER
#define FAULT_HANDLER Default_Handler
#else
#define FAULT_HANDLER 0
#endif

/* VTOR needs a 512-byte aligned table on these cores; h7.ld places .vectors after the code. */
__attribute__((section(".vectors"), aligned(512), used))
void (*const vectors[16])(void) = {0, Default_Handler, Default_Handler, FAULT_HANDLER,
                                   FAULT_HANDLER, FAULT_HANDLER, FAULT_HANDLER, 0, 0, 0, 0,
                                   Default_Handler, Default_Handler, 0, Default_Handler,
                                   SysTick_Handler};

uint32_t HAL_GetTick(void) { return uwTick; }

__attribute__((noinline)) void HAL_Delay(uint32_t ms)
{
    uint32_t start = HAL_GetTick();
    while (HAL_GetTick() - start < ms) {
    }
}

static void tick_init(uint32_t core_hz)
{
    SCB_VTOR = (uint32_t)vectors;
    SYSTICK_LOAD = core_hz / 1000u - 1u;
    SYSTICK_VAL = 0u;
    SYSTICK_CTRL = SYSTICK_CTRL_ENABLE | SYSTICK_CTRL_TICKINT | SYSTICK_CTRL_CLKSOURCE;
}

#ifdef FAULT_TIMER_DELAY
/* A one-pulse TIM6 as the delay (RM0433: TIM6 at 0x40001000, CR1 0x00, SR 0x10, PSC 0x28, ARR
 * 0x2C; RCC_APB1LENR.TIM6EN bit 4). */
#define TIM6_CR1 REG(0x40001000u)
#define TIM6_SR  REG(0x40001010u)
#define TIM6_PSC REG(0x40001028u)
#define TIM6_ARR REG(0x4000102Cu)

__attribute__((noinline)) static void timer_delay_us(uint32_t us)
{
    RCC_APB1LENR |= 1u << 4;
    TIM6_PSC = 99u; /* 100 MHz APB1 timer clock / 100 = 1 MHz */
    TIM6_ARR = us;
    TIM6_SR = 0u;
    TIM6_CR1 = (1u << 3) | 1u; /* OPM, CEN */
    while (!(TIM6_SR & 1u)) {
    }
}
#endif

/* -- clocks and pins --------------------------------------------------------------------------- */

/* HSI 64 MHz / M 4 * N 25 / P 2 = 200 MHz; HCLK = 100 MHz also clocks the QUADSPI kernel. */
__attribute__((noinline)) static void clock_init(void)
{
    if ((RCC_CFGR & (7u << 3)) == (3u << 3))
        return; /* a repeated Init finds PLL1 already driving SYSCLK */
    RCC_PLLCKSELR = (4u << 4);
    RCC_PLL1DIVR = (25u - 1u) | ((2u - 1u) << 9) | ((2u - 1u) << 16);
    RCC_PLLCFGR = (3u << 2) | (1u << 16);
#ifndef FAULT_PLL_NOT_ENABLED
    RCC_CR |= RCC_CR_PLL1ON;
#endif
    while (!(RCC_CR & RCC_CR_PLL1RDY)) {
    }
    RCC_D1CFGR = (8u << 0); /* HPRE /2 */
    RCC_CFGR = (RCC_CFGR & ~7u) | 3u;
    while ((RCC_CFGR & (7u << 3)) != (3u << 3)) {
    }
}

static void pin_af(char port, uint32_t pin, uint32_t af)
{
    uint32_t base = GPIO_BASE(port);
    REG(base + 0x00u) = (REG(base + 0x00u) & ~(3u << (2u * pin))) | (2u << (2u * pin));
    REG(base + 0x08u) |= 3u << (2u * pin); /* very high speed */
    uint32_t afr = base + (pin < 8u ? 0x20u : 0x24u);
    uint32_t shift = 4u * (pin % 8u);
    REG(afr) = (REG(afr) & ~(0xFu << shift)) | (af << shift);
}

static void pins_init(void)
{
    RCC_AHB4ENR |= (1u << 1) | (1u << 3) | (1u << 4); /* GPIOB, GPIOD, GPIOE */
    pin_af('B', 2u, 9u);
#ifdef FAULT_WRONG_NCS
    pin_af('B', 10u, 9u);
#else
    pin_af('B', 6u, 10u);
#endif
    pin_af('D', 11u, 9u);
    pin_af('D', 12u, 9u);
    pin_af('E', 2u, 9u);
    pin_af('D', 13u, 9u);
}

/* -- QUADSPI ----------------------------------------------------------------------------------- */

static void qspi_abort(void)
{
    QSPI->CR |= QSPI_CR_ABORT;
    while (QSPI->CR & QSPI_CR_ABORT) {
    }
    QSPI->FCR = QSPI_FCR_CTEF | QSPI_FCR_CTCF | QSPI_FCR_CSMF | QSPI_FCR_CTOF;
}

static void qspi_init(void)
{
#ifndef FAULT_QSPI_CLOCK_OFF
    RCC_AHB3ENR |= RCC_AHB3ENR_QSPIEN;
#endif
#ifdef FAULT_OTHER_H7
    OCTOSPIM_CR = 0u; /* the H72x/H73x IO manager: this loader was written for another H7 */
#endif
#ifdef FAULT_INIT_NO_ABORT
    /* read-modify-write keeps EN, and memory-mapped mode, from a previous Init */
    QSPI->CR |= (1u << QSPI_CR_PRESCALER_POS) | QSPI_CR_APMS;
#else
    qspi_abort();
    QSPI->CR = 0u;
    QSPI->CR = (1u << QSPI_CR_PRESCALER_POS) | QSPI_CR_APMS;
#endif
    QSPI->DCR = (23u << QSPI_DCR_FSIZE_POS) | (2u << QSPI_DCR_CSHT_POS);
    QSPI->CR |= QSPI_CR_EN;
}

#ifdef LOG_SR
/* Each data loop turn's SR value, FIFO level and all: a loop that uses every bit it reads.
 * Only for transfers of at most 8 KiB (the tests' Read() asks for 4 KiB and 5 bytes). */
uint32_t sr_log[8192];
#endif

/* One indirect command; waits for the transfer to complete. */
static void command(uint32_t ccr, uint32_t address, uint8_t *data, uint32_t length)
{
    if (length)
        QSPI->DLR = length - 1u;
    QSPI->CCR = ccr;
    if ((ccr >> QSPI_CCR_ADMODE_POS) & 3u)
        QSPI->AR = address;
    volatile uint8_t *dr = (volatile uint8_t *)&QSPI->DR;
    int reading = ((ccr >> QSPI_CCR_FMODE_POS) & 3u) == R;
    for (uint32_t i = 0; i < length; i++) {
#ifdef LOG_SR
        uint32_t sr;
        while (!((sr = QSPI->SR) & (QSPI_SR_FTF | QSPI_SR_TCF))) {
        }
        sr_log[i] = sr;
#else
        while (!(QSPI->SR & (QSPI_SR_FTF | QSPI_SR_TCF))) {
        }
#endif
        if (reading)
            data[i] = *dr;
        else
            *dr = data[i];
    }

    while (!(QSPI->SR & QSPI_SR_TCF)) {
    }
    QSPI->FCR = QSPI_FCR_CTCF;
}

/* Automatic status polling until WIP (SR1 bit 0) reads 0. */
static void wait_ready(void)
{
    QSPI->PSMKR = 0x01u;
    QSPI->PSMAR = 0x00u;
    QSPI->PIR = 0x10u;
    QSPI->DLR = 0u;
    QSPI->CCR = CCR(QSPI_FMODE_AUTO_POLLING, L1, L0, L1, 0x05u);
    while (!(QSPI->SR & QSPI_SR_SMF)) {
    }
    QSPI->FCR = QSPI_FCR_CSMF;
}

static void write_enable(void)
{
#ifndef FAULT_NO_WREN
    command(CCR(W, L1, L0, L0, 0x06u), 0u, 0, 0u);
#endif
}

static void qspi_map(void)
{
#ifndef FAULT_NOT_MAPPED
    if (((QSPI->CCR >> QSPI_CCR_FMODE_POS) & 3u) == QSPI_FMODE_MEMORY_MAPPED)
        return;
    QSPI->ABR = 0xFFu;
    QSPI->CCR = CCR(QSPI_FMODE_MEMORY_MAPPED, L1, L4, L4, 0xEBu) |
                (L4 << QSPI_CCR_ABMODE_POS) | (QSPI_SIZE_8 << QSPI_CCR_ABSIZE_POS) |
                (MAPPED_DUMMY << QSPI_CCR_DCYC_POS);
#endif
}

static void leave_mapped(void)
{
    if (((QSPI->CCR >> QSPI_CCR_FMODE_POS) & 3u) == QSPI_FMODE_MEMORY_MAPPED || (QSPI->SR & QSPI_SR_BUSY))
        qspi_abort();
}

/* -- NOR commands ------------------------------------------------------------------------------ */

__attribute__((unused)) static int read_id_ok(void)
{
    uint8_t id[3];
#ifdef FAULT_ID_QUAD_LINES
    command(CCR(R, L4, L0, L4, 0x9Fu), 0u, id, 3u);
#else
    command(CCR(R, L1, L0, L1, 0x9Fu), 0u, id, 3u);
#endif
    return id[0] == 0xEFu && id[1] == 0x40u && id[2] == 0x18u;
}

static void quad_enable(void)
{
    uint8_t sr2;
    command(CCR(R, L1, L0, L1, 0x35u), 0u, &sr2, 1u);
    if (sr2 & 0x02u)
        return;
    sr2 |= 0x02u;
    write_enable();
    command(CCR(W, L1, L0, L1, 0x31u), 0u, &sr2, 1u);
    wait_ready();
}

static void read_indirect(uint32_t offset, uint8_t *data, uint32_t length)
{
#ifdef FAULT_READ_DUMMY
    command(CCR(R, L1, L1, L1, 0x0Bu) | (6u << QSPI_CCR_DCYC_POS), offset, data, length);
#else
    command(CCR(R, L1, L1, L1, 0x0Bu) | (8u << QSPI_CCR_DCYC_POS), offset, data, length);
#endif
}

static int program_page(uint32_t offset, const uint8_t *data, uint32_t length)
{
    write_enable();
    command(CCR(W, L1, L1, L1, 0x02u), offset, (uint8_t *)data, length);
#ifndef FAULT_NO_WAIT
    wait_ready();
#endif
    /* read back and compare, a few bytes at a time */
    uint32_t done = 0;
    while (done < length) {
        uint32_t n = length - done > sizeof verify_copy ? sizeof verify_copy : length - done;
        read_indirect(offset + done, verify_copy, n);
        for (uint32_t i = 0; i < n; i++) {
#ifdef COMPARE_HIGH_BITS
            if (verify_copy[i] >> 1 != data[done + i] >> 1)
#else
            if (verify_copy[i] != data[done + i])
#endif
                return 0;
        }
        done += n;
    }
    return 1;
}

#ifdef WITH_IT_MEMSET
/* Zero the n bytes (a multiple of 8) below end, eight at a time, the store conditional. */
static void it_memset_zero(uint8_t *end, uint32_t n)
{
    register uint8_t *p __asm("r0") = end;
    register uint32_t left __asm("r1") = n;
    register uint32_t z0 __asm("r2") = 0u;
    register uint32_t z1 __asm("r3") = 0u;
    __asm volatile("1: subs %1, %1, #8\n"
                   "   it cs\n"
                   "   stmdbcs %0!, {%2, %3}\n"
                   "   bhi 1b\n"
                   : "+r"(p), "+r"(left)
                   : "r"(z0), "r"(z1)
                   : "cc", "memory");
}
#endif

/* -- entry points ------------------------------------------------------------------------------ */

int Init(void)
{
    calls = 0;
#ifdef WITH_IT_MEMSET
    it_memset_zero(verify_copy + sizeof verify_copy, sizeof verify_copy);
#endif
#ifdef FAULT_SYSTICK_MASKED
    cm_set_primask(1u); /* __disable_irq(), as some templates do before HAL_Init() */
#endif
    clock_init();
    tick_init(200000000u);
    pins_init();
    qspi_init();
    command(CCR(W, L1, L0, L0, 0x66u), 0u, 0, 0u);
    command(CCR(W, L1, L0, L0, 0x99u), 0u, 0, 0u);
#ifdef FAULT_TIMER_DELAY
    timer_delay_us(30u); /* tRST */
#else
    HAL_Delay(1u); /* tRST */
#endif
#ifndef FAULT_NO_ID_CHECK
    if (!read_id_ok())
        return 0;
#endif
    quad_enable();
    qspi_map();
    return 1;
}

int Write(uint32_t Address, uint32_t Size, uint8_t *buffer)
{
    uint32_t offset = Address & 0x0FFFFFFFu;
    calls++;
#ifdef FAULT_STRAY_WRITE
    REG(0x24070000u) = calls; /* debug counter at a fixed address, outside the image */
#endif
#ifdef FAULT_STACK_HOG
    volatile uint8_t scratch[1536];
    for (uint32_t i = 0; i < sizeof scratch; i++)
        scratch[i] = i < Size ? buffer[i] : 0xFFu;
    buffer[0] = scratch[0];
#endif
    leave_mapped();
    while (Size) {
#ifdef FAULT_NO_PAGE_SPLIT
        uint32_t chunk = Size > PAGE_SIZE ? PAGE_SIZE : Size;
#else
        uint32_t chunk = PAGE_SIZE - offset % PAGE_SIZE;
        if (chunk > Size)
            chunk = Size;
#endif
        if (!program_page(offset, buffer, chunk))
            return 0;
        offset += chunk;
        buffer += chunk;
        Size -= chunk;
    }
    qspi_map();
    return 1;
}

int Read(uint32_t Address, uint32_t Size, uint8_t *Buffer)
{
    if (Size == 0u)
        return 0;
    leave_mapped();
    read_indirect(Address & 0x0FFFFFFFu, Buffer, Size);
    qspi_map();
    return 1;
}

int SectorErase(uint32_t EraseStartAddress, uint32_t EraseEndAddress)
{
    uint32_t first = EraseStartAddress & 0x0FFFFFFFu & ~(SECTOR_SIZE - 1u);
    uint32_t last = EraseEndAddress & 0x0FFFFFFFu;
    leave_mapped();
#ifdef FAULT_ERASE_END_EXCL
    for (uint32_t a = first; a < last; a += SECTOR_SIZE) {
#else
    for (uint32_t a = first; a <= last; a += SECTOR_SIZE) {
#endif
        write_enable();
        command(CCR(W, L1, L1, L0, 0x20u), a, 0, 0u);
        wait_ready();
    }
    qspi_map();
    return 1;
}

int MassErase(uint32_t Parallelism)
{
    (void)Parallelism;
    leave_mapped();
    write_enable();
    command(CCR(W, L1, L0, L0, 0xC7u), 0u, 0, 0u);
    wait_ready();
    qspi_map();
    return 1;
}

uint32_t CheckSum(uint32_t StartAddress, uint32_t Size, uint32_t InitVal)
{
    const volatile uint8_t *p = (const volatile uint8_t *)StartAddress;
    while (Size--)
        InitVal += *p++;
    return InitVal;
}

uint64_t Verify(uint32_t MemoryAddr, uint32_t RAMBufferAddr, uint32_t Size, uint32_t missalignement)
{
    qspi_map();
    uint32_t bytes = Size * 4u;
    uint32_t sum = CheckSum(MemoryAddr + (missalignement & 0xFu),
                            bytes - ((missalignement >> 16) & 0xFu), 0u);
    const volatile uint8_t *flash = (const volatile uint8_t *)MemoryAddr;
    const uint8_t *ram = (const uint8_t *)RAMBufferAddr;
    for (uint32_t i = 0; i < bytes; i++) {
        if (flash[i] != ram[i])
            return ((uint64_t)sum << 32) | (MemoryAddr + i);
    }
    return (uint64_t)sum << 32;
}
