/* A register-level OCTOSPI/XSPI loader as the CubeMX templates write one: Init enables the
 * controller, IO manager and GPIO clocks in RCC, (H7R/S) switches on the XSPIM port supply in
 * PWR and the I/O speed optimisation in SBS, routes the port and issues a reset command. Which
 * family's addresses it uses is picked with -DFAM_H7RS, -DFAM_U5 or -DFAM_H7B3 (values from the
 * CMSIS device headers / reference manuals; peripherals.md §4.1 and §6.1). */
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

#if defined(FAM_H7RS) /* XSPI2 on XSPIM port 2, pins on GPION (STM32H7S78-DK NOR) */
#define CTRL_BASE 0x5200A000u
#define MGR_REG 0x5200B400u          /* XSPIM_CR */
#define MGR_VALUE 0u                 /* reset routing: port n <- XSPIn */
#define CTRL_EN_REG 0x58024534u      /* RCC_AHB5ENR */
#define CTRL_EN_BITS ((1u << 12) | (1u << 14)) /* XSPI2EN, XSPIMEN */
#define GPIO_EN_REG 0x58024540u      /* RCC_AHB4ENR */
#define GPIO_EN_BIT (1u << 13)       /* GPIONEN */
#define GPIO_BASE 0x58023400u        /* GPION */
#define PWR_CSR2 0x5802480Cu
#define EN_XSPIM2 (1u << 15)
#define SBS_CCCSR 0x58000510u
#define XSPI2_HSLV_COMP ((1u << 18) | (1u << 4)) /* XSPI2_IOHSLV, XSPI2_COMP_EN */
#elif defined(FAM_U5) /* OCTOSPI1 on OCTOSPIM port 1, pins on GPIOB */
#define CTRL_BASE 0x420D1400u
#define MGR_REG 0x420C4004u          /* OCTOSPIM_PCR1 */
#define MGR_VALUE 0x03010111u
#define CTRL_EN_REG 0x46020C90u      /* RCC_AHB2ENR2 */
#define CTRL_EN_BITS (1u << 4)       /* OCTOSPI1EN */
#define GPIO_EN_REG 0x46020C8Cu      /* RCC_AHB2ENR1 */
#define GPIO_EN_BIT ((1u << 1) | (1u << 21)) /* GPIOBEN, OCTOSPIMEN */
#define GPIO_BASE 0x42020400u
#elif defined(FAM_H7B3) /* OCTOSPI1 on OCTOSPIM port 1, pins on GPIOB */
#define CTRL_BASE 0x52005000u
#define MGR_REG 0x5200B404u          /* OCTOSPIM_PCR1 */
#define MGR_VALUE 0x03010111u
#define CTRL_EN_REG 0x580244D4u      /* RCC_AHB3ENR */
#define CTRL_EN_BITS ((1u << 14) | (1u << 21)) /* OSPI1EN, IOMNGREN */
#define GPIO_EN_REG 0x580244E0u      /* RCC_AHB4ENR */
#define GPIO_EN_BIT (1u << 1)        /* GPIOBEN */
#define GPIO_BASE 0x58020400u
#else
#error "choose a family: -DFAM_H7RS, -DFAM_U5 or -DFAM_H7B3"
#endif

#define CR 0x000u
#define SR 0x020u
#define AR 0x048u
#define DR 0x050u
#define CCR 0x100u
#define IR 0x110u
#define BUSY (1u << 5)

static uint32_t commands;

static int command(uint32_t instruction, uint32_t address) {
    REG(CTRL_BASE + CCR) = 0x0101u; /* instruction and address on one line */
    REG(CTRL_BASE + IR) = instruction;
    REG(CTRL_BASE + AR) = address;
    commands++;
    for (uint32_t i = 0; i < 100000u; i++) {
        if ((REG(CTRL_BASE + SR) & BUSY) == 0) {
            return 1;
        }
    }
    return 0;
}

int Init(void) {
    REG(CTRL_EN_REG) |= CTRL_EN_BITS;
    REG(GPIO_EN_REG) |= GPIO_EN_BIT;
#ifdef PWR_CSR2
    REG(PWR_CSR2) |= EN_XSPIM2;
    REG(SBS_CCCSR) |= XSPI2_HSLV_COMP;
#endif
    REG(GPIO_BASE) = 0xAAAAAAAAu; /* every pin in alternate-function mode */
    REG(MGR_REG) = MGR_VALUE;
    REG(CTRL_BASE + CR) = 1u;
    return command(0x66u, 0) && command(0x99u, 0);
}

int DeInit(void) { return 1; }

int Write(uint32_t Address, uint32_t Size, uint8_t *buffer) {
    if (!command(0x06u, 0) || !command(0x02u, Address)) {
        return 0;
    }
    while (Size--) {
        *(volatile uint8_t *)(CTRL_BASE + DR) = *buffer++;
    }
    return 1;
}

int SectorErase(uint32_t EraseStartAddress, uint32_t EraseEndAddress) {
    for (uint32_t a = EraseStartAddress & ~0xFFFu; a <= EraseEndAddress; a += 0x1000u) {
        if (!command(0x06u, 0) || !command(0x20u, a)) {
            return 0;
        }
    }
    return 1;
}
