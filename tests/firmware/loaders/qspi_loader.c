/* A small loader that looks like the real ones: Init brings up RCC, GPIO and the memory
 * controller, the other entry points drive indirect-mode commands. It is a parsing and lint
 * fixture; which base addresses and habits it has is chosen with -D options. */
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

#ifndef RCC_BASE
#define RCC_BASE 0x58024400u /* H7 */
#endif
#ifndef GPIO_BASE
#define GPIO_BASE 0x58020400u /* H7 GPIOB */
#endif
#ifndef CTRL_BASE
#define CTRL_BASE 0x52005000u /* H7 QUADSPI */
#endif
#ifndef RCC_EN_OFFSET
#define RCC_EN_OFFSET 0xD4u
#endif
#ifdef OCTOSPI
#define CCR_OFFSET 0x100u
#define IR_OFFSET 0x110u
#else
#define CCR_OFFSET 0x14u
#define IR_OFFSET 0x14u
#endif
#define CR_OFFSET 0x00u
#define SR_OFFSET 0x08u
#define AR_OFFSET 0x18u
#define DR_OFFSET 0x20u
#define BUSY 0x20u
#define PAGE 256u

static uint32_t state_flags;
static uint32_t op_count;
static uint8_t scratch[64];
#ifdef BIG_BSS
static volatile uint8_t big_buffer[BIG_BSS];
#endif

/* No libc: the local memset minimal loaders carry (GCC turns clearing loops into calls). */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
void *memset(void *dest, int value, unsigned int size) {
    uint8_t *p = dest;
    while (size--) {
        *p++ = (uint8_t)value;
    }
    return dest;
}

#ifdef CLEAR_BSS
extern uint8_t __bss_start__[], __bss_end__[];
static void clear_bss(void) { memset(__bss_start__, 0, (unsigned int)(__bss_end__ - __bss_start__)); }
#endif

#ifdef USE_DWT
/* The community habit: HAL ticks from the DWT cycle counter (absent on Cortex-M0/M0+). */
uint32_t HAL_GetTick(void) { return REG(0xE0001004u) / 64000u; }
static void tick_init(void) {
    REG(0xE000EDFCu) |= 1u << 24;
    REG(0xE0001004u) = 0;
    REG(0xE0001000u) |= 1u;
}
#elif defined(HAL_TICK_NO_SOURCE)
/* HAL_GetTick returning a counter nothing advances: timeouts never expire. */
static volatile uint32_t uwTick;
uint32_t HAL_GetTick(void) { return uwTick; }
void HAL_Delay(uint32_t ms) {
    uint32_t start = HAL_GetTick();
    while (HAL_GetTick() - start < ms) {
    }
}
static void tick_init(void) {}
#elif defined(USE_VECTORS)
/* The CubeIDE template habit: a SysTick interrupt through a RAM vector table. */
static volatile uint32_t uwTick;
void SysTick_Handler(void) { uwTick++; }
void Default_Handler(void) { for (;;) {} }
__attribute__((section(".isr_vector"), used))
void (*const g_pfnVectors[16])(void) = {0, Default_Handler, Default_Handler, Default_Handler,
                                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, SysTick_Handler};
uint32_t HAL_GetTick(void) { return uwTick; }
static void tick_init(void) {
    REG(0xE000ED08u) = (uint32_t)g_pfnVectors;   /* SCB->VTOR */
    REG(0xE000E010u) = 7u;                       /* SysTick: enable, TICKINT, core clock */
    REG(0xE000E100u) = 1u;                       /* NVIC ISER0 */
}
#else
/* SysTick COUNTFLAG polling: no interrupt needed. */
static uint32_t ticks;
uint32_t HAL_GetTick(void) {
    if (REG(0xE000E010u) & (1u << 16)) {
        ticks++;
    }
    return ticks;
}
static void tick_init(void) {
    REG(0xE000E014u) = 64000u - 1u;
    REG(0xE000E010u) = 5u;
}
#endif

#ifdef USE_FLOAT
/* Clock arithmetic in floating point, as HAL RCC code compiled hard-float does. */
volatile float vco_input = 8.0f;
static uint32_t prescaler(void) { return (uint32_t)(vco_input * 1.5f); }
#elif defined(USE_DOUBLE)
volatile double vco_input = 8.0;
static uint32_t prescaler(void) { return (uint32_t)(vco_input * 1.5); }
#else
static uint32_t prescaler(void) { return 1u; }
#endif

static int wait_ready(void) {
    for (uint32_t i = 0; i < 100000u; i++) {
        if ((REG(CTRL_BASE + SR_OFFSET) & BUSY) == 0) {
            return 1;
        }
    }
    return 0;
}

static int command(uint32_t instruction, uint32_t address) {
    REG(CTRL_BASE + CCR_OFFSET) = 0x0100u;
    REG(CTRL_BASE + IR_OFFSET) = instruction;
    REG(CTRL_BASE + AR_OFFSET) = address & 0x0FFFFFFFu;
    op_count++;
    return wait_ready();
}

int Init(void) {
#ifdef CLEAR_BSS
    clear_bss();
#endif
    REG(RCC_BASE + RCC_EN_OFFSET) |= 1u << 14;
    REG(GPIO_BASE) = 0xAAAAAAAAu;
#ifdef OCTOSPIM_BASE
    REG(OCTOSPIM_BASE + 4u) = 0x03010111u;
#endif
    tick_init();
    REG(CTRL_BASE + CR_OFFSET) = (prescaler() << 24) | 1u;
    state_flags = 1u;
    return command(0x66, 0) && command(0x99, 0);
}

int DeInit(void) { return 1; }

#ifndef NO_WRITE
int Write(uint32_t Address, uint32_t Size, uint8_t *buffer) {
    while (Size) {
        uint32_t chunk = PAGE - (Address % PAGE);
        if (chunk > Size) {
            chunk = Size;
        }
        if (!command(0x06, 0) || !command(0x32, Address)) {
            return 0;
        }
        for (uint32_t i = 0; i < chunk; i++) {
            *(volatile uint8_t *)(CTRL_BASE + DR_OFFSET) = buffer[i];
        }
        buffer += chunk;
        Address += chunk;
        Size -= chunk;
    }
    return 1;
}
#endif

#ifndef NO_SECTOR_ERASE
int SectorErase(uint32_t EraseStartAddress, uint32_t EraseEndAddress) {
    for (uint32_t a = EraseStartAddress & ~0xFFFFu; a <= EraseEndAddress; a += 0x10000u) {
        if (!command(0x06, 0) || !command(0xD8, a)) {
            return 0;
        }
    }
    return 1;
}
#endif

int MassErase(uint32_t Parallelism) {
    (void)Parallelism;
    return command(0x06, 0) && command(0xC7, 0);
}

#ifndef NO_READ
int Read(uint32_t Address, uint32_t Size, uint8_t *Buffer) {
    if (Size == 0 || !command(0x0B, Address)) {
        return 0;
    }
    for (uint32_t i = 0; i < Size; i++) {
        Buffer[i] = *(volatile uint8_t *)(CTRL_BASE + DR_OFFSET);
        scratch[i % sizeof scratch] = Buffer[i];
    }
#ifdef BIG_BSS
    big_buffer[Address % BIG_BSS] = Buffer[0];
#endif
    return 1;
}
#endif

uint32_t CheckSum(uint32_t StartAddress, uint32_t Size, uint32_t InitVal) {
    for (uint32_t i = 0; i < Size; i++) {
        InitVal += *(volatile uint8_t *)(StartAddress + i);
    }
    scratch[0] = (uint8_t)InitVal;
    return InitVal;
}

uint64_t Verify(uint32_t MemoryAddr, uint32_t RAMBufferAddr, uint32_t Size, uint32_t mis) {
    uint32_t sum = CheckSum(MemoryAddr + (mis & 0xF), Size * 4 - ((mis >> 16) & 0xF), 0);
    for (uint32_t i = 0; i < Size * 4; i++) {
        if (*(volatile uint8_t *)(MemoryAddr + i) != *(uint8_t *)(RAMBufferAddr + i)) {
            return ((uint64_t)sum << 32) | (MemoryAddr + i);
        }
    }
    return (uint64_t)sum << 32;
}
