/*
 * Cortex-M3/M4/M7 system control space for test firmware: SCB, SysTick, NVIC priorities, the
 * debug halting control register and the CMSIS-style intrinsics the loaders use.
 * Addresses from the ARMv7-M Architecture Reference Manual (B3.2, C1.6).
 */
#ifndef EXTFLASH_TEST_CORTEXM_H
#define EXTFLASH_TEST_CORTEXM_H

#include <stdint.h>

#define CM_REG(addr) (*(volatile uint32_t *)(addr))

/* System control block */
#define SCB_VTOR   CM_REG(0xE000ED08u)
#define SCB_AIRCR  CM_REG(0xE000ED0Cu)
#define SCB_SHPR3  CM_REG(0xE000ED20u) /* byte 3 = SysTick priority, byte 2 = PendSV */
#define SCB_CPACR  CM_REG(0xE000ED88u)

#define SCB_AIRCR_VECTKEY        (0x05FAu << 16)
#define SCB_AIRCR_VECTKEY_MASK   (0xFFFFu << 16)
#define SCB_AIRCR_PRIGROUP_POS   8u
#define SCB_AIRCR_PRIGROUP_MASK  (7u << SCB_AIRCR_PRIGROUP_POS)
#define SCB_CPACR_CP10_CP11_FULL (0xFu << 20)

/* SysTick */
#define SYSTICK_CTRL  CM_REG(0xE000E010u)
#define SYSTICK_LOAD  CM_REG(0xE000E014u)
#define SYSTICK_VAL   CM_REG(0xE000E018u)
#define SYSTICK_CTRL_ENABLE    (1u << 0)
#define SYSTICK_CTRL_TICKINT   (1u << 1)
#define SYSTICK_CTRL_CLKSOURCE (1u << 2) /* 1 = processor clock */
#define SYSTICK_LOAD_MAX       0x00FFFFFFu

/* Debug halting control and status (writes need the DBGKEY in the top half) */
#define CORE_DHCSR CM_REG(0xE000EDF0u)
#define CORE_DHCSR_DBGKEY (0xA05Fu << 16)

/* STM32 parts implement 4 priority bits: priority p is stored as p << 4. */
#define NVIC_PRIO_BITS 4u

static inline void cm_set_primask(uint32_t mask)
{
    __asm volatile("msr primask, %0" : : "r"(mask) : "memory");
}

static inline void cm_dsb(void) { __asm volatile("dsb 0xF" : : : "memory"); }
static inline void cm_isb(void) { __asm volatile("isb 0xF" : : : "memory"); }

#endif
