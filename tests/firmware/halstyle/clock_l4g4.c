/*
 * STM32L4 / STM32G4 clock tree, HAL_RCC/HAL_PWREx style with HAL_GetTick() timeouts on
 * every ready flag. SYSCLK = main PLL R output: 80 MHz on L4, 150 MHz on G4 (range 1 normal
 * mode, no boost); the PLL input is HSI16 or HSE (HS_HSE_HZ). L4 leaves reset on MSI, so HSI16
 * is switched on first. Offsets and bits from the STM32L476 and STM32G474 SVD files.
 */
#include "hal.h"

#define RCC_CR       HS_REG(HS_RCC_BASE, 0x00u)
#define RCC_CFGR     HS_REG(HS_RCC_BASE, 0x08u)
#define RCC_PLLCFGR  HS_REG(HS_RCC_BASE, 0x0Cu)
#define RCC_APB1ENR1 HS_REG(HS_RCC_BASE, 0x58u)
#define PWR_CR1      HS_REG(HS_PWR_BASE, 0x00u)
#define PWR_SR2      HS_REG(HS_PWR_BASE, 0x14u)
#define FLASH_ACR    HS_REG(HS_FLASH_BASE, 0x00u)

#define RCC_CR_HSION   (1u << 8)
#define RCC_CR_HSIRDY  (1u << 10)
#define RCC_CR_HSEON   (1u << 16)
#define RCC_CR_HSERDY  (1u << 17)
#define RCC_CR_HSEBYP   (1u << 18)
#define RCC_CR_PLLON   (1u << 24)
#define RCC_CR_PLLRDY  (1u << 25)
#define RCC_CFGR_SW    (3u << 0)
#define RCC_CFGR_SWS   (3u << 2)
#define RCC_CFGR_PRE   ((0xFu << 4) | (7u << 8) | (7u << 11)) /* HPRE, PPRE1, PPRE2: all /1 */
#define RCC_SW_HSI16   1u
#define RCC_SW_PLL     3u
#define RCC_PLLSRC_HSI16 2u
#define RCC_PLLSRC_HSE   3u
#define RCC_PLLCFGR_REN  (1u << 24)
#define RCC_APB1ENR1_PWREN (1u << 28)

#define PWR_CR1_VOS        (3u << 9)
#define PWR_CR1_VOS_RANGE1 (1u << 9)
#define PWR_SR2_VOSF       (1u << 10)

#define FLASH_ACR_LATENCY (0xFu << 0)
/* 4 wait states: RM0351 (L4, range 1) up to 80 MHz; RM0440 (G4, range 1 normal) up to 150 MHz */
#define FLASH_LATENCY_VALUE 4u
#if defined(HS_FAMILY_L4)
_Static_assert(HS_SYSCLK_HZ <= 80000000u, "L4 runs at most 80 MHz");
#else
_Static_assert(HS_SYSCLK_HZ <= 150000000u, "above 150 MHz the G4 needs boost mode");
#endif

#define HSI_TIMEOUT_MS          2u
#define HSE_TIMEOUT_MS          100u
#define PLL_TIMEOUT_MS          2u
#define PWR_TIMEOUT_MS          1000u
#define CLOCKSWITCH_TIMEOUT_MS  5000u

static HAL_StatusTypeDef FLASH_SetLatency(void)
{
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY) | FLASH_LATENCY_VALUE;
    return (FLASH_ACR & FLASH_ACR_LATENCY) == FLASH_LATENCY_VALUE ? HAL_OK : HAL_ERROR;
}

/* Run from HSI16 with the PLL off: the state OscConfig needs, whatever ran before. */
static HAL_StatusTypeDef RCC_RestartFromHsi(void)
{
    RCC_CR |= RCC_CR_HSION;
    if (HAL_WaitForFlag(&RCC_CR, RCC_CR_HSIRDY, RCC_CR_HSIRDY, HSI_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    RCC_CFGR = (RCC_CFGR & ~(RCC_CFGR_SW | RCC_CFGR_PRE)) | RCC_SW_HSI16;
    if (HAL_WaitForFlag(&RCC_CFGR, RCC_CFGR_SWS, RCC_SW_HSI16 << 2, CLOCKSWITCH_TIMEOUT_MS)
        != HAL_OK) {
        return HAL_TIMEOUT;
    }
    SystemCoreClock = HS_HSI_HZ;
    if (HAL_InitTick(TICK_INT_PRIORITY) != HAL_OK) {
        return HAL_ERROR;
    }
    RCC_CR &= ~RCC_CR_PLLON;
    return HAL_WaitForFlag(&RCC_CR, RCC_CR_PLLRDY, 0u, PLL_TIMEOUT_MS);
}

static HAL_StatusTypeDef HAL_RCC_OscConfig(void)
{
    uint32_t source = RCC_PLLSRC_HSI16;
#if HS_HSE_HZ
#if HS_HSE_BYPASS
    RCC_CR |= RCC_CR_HSEBYP; /* external clock (an ST-LINK's MCO), not a crystal */
#endif
    RCC_CR |= RCC_CR_HSEON;
    if (HAL_WaitForFlag(&RCC_CR, RCC_CR_HSERDY, RCC_CR_HSERDY, HSE_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    source = RCC_PLLSRC_HSE;
#endif
    /* PLLM holds M - 1, PLLR encodes /2, /4, /6, /8 as 0..3; only the R output is enabled.
     * Written whole: P, Q and their enables return to 0 (unused). */
    RCC_PLLCFGR = source | ((HS_PLL_M - 1u) << 4) | (HS_PLL_N << 8)
                  | ((HS_PLL_P / 2u - 1u) << 25) | RCC_PLLCFGR_REN;
    RCC_CR |= RCC_CR_PLLON;
    return HAL_WaitForFlag(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY, PLL_TIMEOUT_MS);
}

static HAL_StatusTypeDef HAL_RCC_ClockConfig(void)
{
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW) | RCC_SW_PLL;
    if (HAL_WaitForFlag(&RCC_CFGR, RCC_CFGR_SWS, RCC_SW_PLL << 2, CLOCKSWITCH_TIMEOUT_MS)
        != HAL_OK) {
        return HAL_TIMEOUT;
    }
    SystemCoreClock = HS_SYSCLK_HZ;
    return HAL_InitTick(TICK_INT_PRIORITY);
}

HAL_StatusTypeDef SystemClock_Config(void)
{
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWREN;
    (void)RCC_APB1ENR1;
    /* Range 1 (the reset value, written as HAL_PWREx_ControlVoltageScaling does) */
    PWR_CR1 = (PWR_CR1 & ~PWR_CR1_VOS) | PWR_CR1_VOS_RANGE1;
    if (HAL_WaitForFlag(&PWR_SR2, PWR_SR2_VOSF, 0u, PWR_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    if (FLASH_SetLatency() != HAL_OK || RCC_RestartFromHsi() != HAL_OK) {
        return HAL_ERROR;
    }
    if (HAL_RCC_OscConfig() != HAL_OK) {
        return HAL_ERROR;
    }
    return HAL_RCC_ClockConfig();
}
