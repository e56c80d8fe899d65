/* A Boot context as CubeMX builds it for the External Memory Manager with a USER driver: the
 * interface is brought up (a test loader's Init stands in for MX_XSPI_Init and the clocks),
 * the USER driver initialises the chip and enters memory-mapped mode, and the application
 * starts from the window (VTOR, MSP, reset vector). */
#include <stdint.h>
#include "hal_xspi.h"
#include "stm32_user_driver_api.h"

/* SCB_VTOR and the SysTick registers come from tests/firmware/include/cortexm.h */

int Init(void);
extern uint32_t __data_load__[], __data_start__[], __data_end__[], _estack[];

XSPI_HandleTypeDef EMM_HANDLE = {(OCTOSPI_TypeDef *)OH_CONTROLLER_BASE};

void emm_boot_reset(void);

__attribute__((section(".boot_vectors"), used))
const uint32_t emm_boot_vectors[2] = {(uint32_t)_estack, (uint32_t)emm_boot_reset};

__attribute__((noinline, noreturn)) void boot_failed(void)
{
    for (;;) {
    }
}

void emm_boot_reset(void)
{
    for (uint32_t *src = __data_load__, *dst = __data_start__; dst < __data_end__;)
        *dst++ = *src++;
    if (!Init())
        boot_failed();
    /* The loader's Init also set a memory-mapped write command; MX_XSPI_Init sets none. */
    EMM_HANDLE.Instance->WCCR = 0u;
    __asm volatile("cpsie i");      /* the test HAL's tick, for its timeouts */
    EXTMEM_DRIVER_USER_ObjectTypeDef user;
    uint32_t base = 0u;
    if (EXTMEM_DRIVER_USER_Init(0u, &user) != EXTMEM_DRIVER_USER_OK
        || EXTMEM_DRIVER_USER_Enable_MemoryMappedMode(&user) != EXTMEM_DRIVER_USER_OK
        || EXTMEM_DRIVER_USER_GetMapAddress(&user, &base) != EXTMEM_DRIVER_USER_OK)
        boot_failed();
    __asm volatile("cpsid i");
    SYSTICK_CTRL = 0u;              /* the application brings its own vectors */
    const volatile uint32_t *app = (const volatile uint32_t *)base;
    uint32_t sp = app[0], entry = app[1];
    SCB_VTOR = base;
    __asm volatile("dsb\n\tisb\n\tmsr msp, %0\n\tbx %1" : : "r"(sp), "r"(entry) : "memory");
    for (;;) {
    }
}
