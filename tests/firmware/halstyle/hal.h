/*
 * A small look-alike of the STM32Cube HAL core, written for extflash's test loaders.
 *
 * It reproduces the behaviour that matters to a host or an emulator running a CubeIDE-built
 * loader: a 1 kHz SysTick *interrupt* taken through a vector table in RAM, HAL_GetTick()
 * timeouts that only advance while PRIMASK is clear, and ready-flag polling with those
 * timeouts. It is not ST's code and covers only what the loader uses.
 */
#ifndef HS_HAL_H
#define HS_HAL_H

#include <stdint.h>

#include "cortexm.h"
#include "family.h"

typedef enum {
    HAL_OK = 0,
    HAL_ERROR = 1,
    HAL_BUSY = 2,
    HAL_TIMEOUT = 3,
} HAL_StatusTypeDef;

#define HAL_MAX_DELAY       0xFFFFFFFFu
#define TICK_INT_PRIORITY   15u  /* lowest: the tick never pre-empts anything */
#define NVIC_PRIORITYGROUP_4 3u  /* AIRCR.PRIGROUP: 4 bits of pre-emption priority */

extern uint32_t SystemCoreClock;
extern volatile uint32_t uwTick;

void SystemInit(void);
HAL_StatusTypeDef HAL_Init(void);
HAL_StatusTypeDef HAL_InitTick(uint32_t priority);
void HAL_IncTick(void);
uint32_t HAL_GetTick(void);
void HAL_Delay(uint32_t ms);

/* Poll until (*reg & mask) == value, giving up after timeout_ms ticks (HAL_TIMEOUT). */
HAL_StatusTypeDef HAL_WaitForFlag(volatile uint32_t *reg, uint32_t mask, uint32_t value,
                                  uint32_t timeout_ms);

/* Clock tree (clock_<family>.c) */
HAL_StatusTypeDef SystemClock_Config(void);
void HAL_RCC_QSPI_CLK_ENABLE(void);
void HAL_RCC_QSPI_FORCE_RESET(void);
void HAL_RCC_GPIO_CLK_ENABLE(uint32_t port);

/* GPIO */
typedef struct {
    uint8_t port; /* 0 = GPIOA, 1 = GPIOB, ... */
    uint8_t pin;
    uint8_t af;
} hs_pin_t;

enum { HS_PORT_A, HS_PORT_B, HS_PORT_C, HS_PORT_D, HS_PORT_E, HS_PORT_F,
       HS_PORT_G, HS_PORT_H, HS_PORT_I, HS_PORT_J, HS_PORT_K };
#define HS_PIN(port, pin, af) { HS_PORT_##port, (pin), (af) }

void HAL_GPIO_Init_AF(const hs_pin_t *pin);

#endif
