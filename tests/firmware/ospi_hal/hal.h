/*
 * HAL core look-alike for the OCTOSPI/XSPI test loaders: status codes, the SysTick tick,
 * flag polling with timeouts, clock enables and GPIO alternate functions.
 *
 * Nothing here names a family: every address, offset and bit comes from the -DOH_* flags that
 * build.py derives from extflash's family data and its own per-family RCC facts.
 */
#ifndef OH_HAL_H
#define OH_HAL_H

#include <stdint.h>

#include "cortexm.h"

typedef enum {
    HAL_OK = 0,
    HAL_ERROR = 1,
    HAL_BUSY = 2,
    HAL_TIMEOUT = 3,
} HAL_StatusTypeDef;

#define HAL_MAX_DELAY        0xFFFFFFFFu
#define TICK_INT_PRIORITY    15u /* lowest: the tick never pre-empts anything */
#define NVIC_PRIORITYGROUP_4 3u

#define OH_REG(addr) (*(volatile uint32_t *)(addr))

/* One register field: address, mask and the value to put in it. */
typedef struct {
    uint32_t address;
    uint32_t mask;
    uint32_t value;
} oh_field_t;

/* A clock-enable or reset bit: register address and bit number. */
typedef struct {
    uint32_t address;
    uint32_t bit;
} oh_bit_t;

extern uint32_t SystemCoreClock;
extern volatile uint32_t uwTick;

void SystemInit(void);
HAL_StatusTypeDef HAL_Init(void);
HAL_StatusTypeDef HAL_InitTick(uint32_t priority);
void HAL_IncTick(void);
uint32_t HAL_GetTick(void);
void HAL_Delay(uint32_t ms);
HAL_StatusTypeDef HAL_WaitForFlag(volatile uint32_t *reg, uint32_t mask, uint32_t value,
                                  uint32_t timeout_ms);

void oh_set_field(const oh_field_t *f);
void oh_set_bit(const oh_bit_t *b);
void oh_clear_bit(const oh_bit_t *b);

/* clock.c */
HAL_StatusTypeDef SystemClock_Config(void);

/* GPIO: port 0 = GPIOA; ports follow at a fixed stride (M..P on H7R/S are ports 12..15). */
typedef struct {
    uint8_t port;
    uint8_t pin;
    uint8_t af;
} oh_pin_t;

void HAL_GPIO_Init_AF(const oh_pin_t *pin);

#endif
