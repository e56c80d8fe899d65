/* Drives a generated USER driver (stm32_user_driver.c) on the virtual board in the order the
 * External Memory Manager calls it: Init, GetInfo, EraseSector, Write, Read, memory-mapped mode
 * on, GetMapAddress, reads through the window, mapped mode off, DeInit. The interface is brought
 * up first by a test loader's Init (tests/firmware/ospi_hal), as a CubeMX Boot project's
 * MX_XSPI_Init would. Each step is reported through semihosting; SYS_EXIT carries the number of
 * failed steps. */
#include <stdint.h>
#include "hal_xspi.h"
#include "stm32_user_driver_api.h"

#define SYS_WRITE0 0x04
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define TEST_ADDRESS 0x1003u    /* not page aligned: the write crosses three pages */
#define TEST_SIZE 600u

int Init(void);
extern uint32_t __data_load__[], __data_start__[], __data_end__[], _estack[];

XSPI_HandleTypeDef EMM_HANDLE = {(OCTOSPI_TypeDef *)OH_CONTROLLER_BASE};

void harness_reset(void);

__attribute__((section(".boot_vectors"), used))
const uint32_t harness_vectors[2] = {(uint32_t)_estack, (uint32_t)harness_reset};

static void semihost(int op, const void *arg)
{
    register int r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
}

static uint32_t failures;

static void check(const char *step, int ok)
{
    semihost(SYS_WRITE0, step);
    semihost(SYS_WRITE0, ok ? ": ok\n" : ": FAILED\n");
    failures += ok ? 0u : 1u;
}

static int same(const volatile uint8_t *a, const uint8_t *b, uint32_t n)
{
    while (n--)
        if (*a++ != *b++)
            return 0;
    return 1;
}

static uint8_t pattern[TEST_SIZE], back[TEST_SIZE];

void harness_reset(void)
{
    for (uint32_t *src = __data_load__, *dst = __data_start__; dst < __data_end__;)
        *dst++ = *src++;
    if (!Init()) {
        semihost(SYS_WRITE0, "bring-up failed\n");
        uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, 100u};
        semihost(SYS_EXIT_EXTENDED, block);
    }
    __asm volatile("cpsie i");      /* the test HAL's 1 kHz tick, for its timeouts */
    for (uint32_t i = 0; i < TEST_SIZE; i++)
        pattern[i] = (uint8_t)(i * 7u + (i >> 8));

    EXTMEM_DRIVER_USER_ObjectTypeDef user = {0xFFu, 0};
    EXTMEM_USER_MemInfoTypeDef info = {0u, 0u};
    uint32_t base = 0u;
    check("Init", EXTMEM_DRIVER_USER_Init(0u, &user) == EXTMEM_DRIVER_USER_OK && user.MemID == 0u);
    check("GetInfo", EXTMEM_DRIVER_USER_GetInfo(&user, &info) == EXTMEM_DRIVER_USER_OK
                     && info.MemSize == EXPECTED_SIZE_LOG2);
    check("EraseSector", EXTMEM_DRIVER_USER_EraseSector(&user, 0x1000u, 0x1000u)
                         == EXTMEM_DRIVER_USER_OK);
    check("Write", EXTMEM_DRIVER_USER_Write(&user, TEST_ADDRESS, pattern, TEST_SIZE)
                   == EXTMEM_DRIVER_USER_OK);
    check("Read", EXTMEM_DRIVER_USER_Read(&user, TEST_ADDRESS, back, TEST_SIZE)
                  == EXTMEM_DRIVER_USER_OK && same(back, pattern, TEST_SIZE));
    check("Enable_MemoryMappedMode", EXTMEM_DRIVER_USER_Enable_MemoryMappedMode(&user)
                                     == EXTMEM_DRIVER_USER_OK);
    check("GetMapAddress", EXTMEM_DRIVER_USER_GetMapAddress(&user, &base) == EXTMEM_DRIVER_USER_OK
                           && base == OH_WINDOW);
    check("window", same((const volatile uint8_t *)(base + TEST_ADDRESS), pattern, TEST_SIZE));
    check("Disable_MemoryMappedMode", EXTMEM_DRIVER_USER_Disable_MemoryMappedMode(&user)
                                      == EXTMEM_DRIVER_USER_OK);
    check("DeInit", EXTMEM_DRIVER_USER_DeInit(&user) == EXTMEM_DRIVER_USER_OK);
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, failures};
    semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}
