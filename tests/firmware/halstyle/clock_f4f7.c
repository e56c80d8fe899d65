/*
 * STM32F4 / STM32F7 clock tree, HAL_RCC/HAL_PWREx style with HAL_GetTick() timeouts on
 * every ready flag. SYSCLK = main PLL P output: 216 MHz on F7 (needs over-drive), 100 MHz on
 * F4 (the F412/F413 maximum); the PLL input is HSI (16 MHz) or HSE (HS_HSE_HZ). Offsets and
 * bits from the STM32F446 and STM32F746 SVD files (RCC, PWR, FLASH).
 */
#include "hal.h"

#define RCC_CR       HS_REG(HS_RCC_BASE, 0x00u)
#define RCC_PLLCFGR  HS_REG(HS_RCC_BASE, 0x04u)
#define RCC_CFGR     HS_REG(HS_RCC_BASE, 0x08u)
#define RCC_APB1ENR  HS_REG(HS_RCC_BASE, 0x40u)
#define PWR_CR       HS_REG(HS_PWR_BASE, 0x00u) /* PWR_CR1 on F7 */
#define PWR_CSR      HS_REG(HS_PWR_BASE, 0x04u) /* PWR_CSR1 on F7 */
#define FLASH_ACR    HS_REG(HS_FLASH_BASE, 0x00u)

#define RCC_CR_HSION   (1u << 0)
#define RCC_CR_HSIRDY  (1u << 1)
#define RCC_CR_HSEON   (1u << 16)
#define RCC_CR_HSERDY  (1u << 17)
#define RCC_CR_HSEBYP   (1u << 18)
#define RCC_CR_PLLON   (1u << 24)
#define RCC_CR_PLLRDY  (1u << 25)
#define RCC_PLLCFGR_M_N_P_SRC ((0x3Fu << 0) | (0x1FFu << 6) | (3u << 16) | (1u << 22))
#define RCC_PLLCFGR_SRC_HSE   (1u << 22)
#define RCC_CFGR_SW    (3u << 0)
#define RCC_CFGR_SWS   (3u << 2)
#define RCC_CFGR_PRE   ((0xFu << 4) | (7u << 10) | (7u << 13)) /* HPRE, PPRE1, PPRE2 */
#define RCC_SW_HSI     0u
#define RCC_SW_PLL     2u
#define RCC_APB1ENR_PWREN (1u << 28)

#define PWR_CR_VOS_SCALE1 (3u << 14)
#define PWR_CR_ODEN       (1u << 16)
#define PWR_CR_ODSWEN     (1u << 17)
#define PWR_CSR_VOSRDY    (1u << 14)
#define PWR_CSR_ODRDY     (1u << 16)
#define PWR_CSR_ODSWRDY   (1u << 17)

#define FLASH_ACR_LATENCY (0xFu << 0)
#if defined(HS_FAMILY_F7)
/* RM0410 table 7, 2.7-3.6 V: 7 wait states up to 216 MHz */
#define FLASH_LATENCY_VALUE 7u
_Static_assert(HS_SYSCLK_HZ <= 216000000u, "flash latency below is for <= 216 MHz");
#else
/* RM0390 table 5, 2.7-3.6 V: 3 wait states up to 120 MHz */
#define FLASH_LATENCY_VALUE 3u
_Static_assert(HS_SYSCLK_HZ <= 100000000u, "F412/F413 run at most 100 MHz");
#endif

/* AHB = SYSCLK, APB1 = SYSCLK / 4 (<= 45/54 MHz), APB2 = SYSCLK / 2 (<= 90/108 MHz) */
#define RCC_CFGR_PRE_VALUE ((5u << 10) | (4u << 13))

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

/* A second Init finds the PLL driving SYSCLK; it cannot be reconfigured while in use. */
static HAL_StatusTypeDef RCC_RestartFromHsi(void)
{
    RCC_CR |= RCC_CR_HSION;
    if (HAL_WaitForFlag(&RCC_CR, RCC_CR_HSIRDY, RCC_CR_HSIRDY, HSI_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    RCC_CFGR = (RCC_CFGR & ~(RCC_CFGR_SW | RCC_CFGR_PRE)) | RCC_SW_HSI;
    if (HAL_WaitForFlag(&RCC_CFGR, RCC_CFGR_SWS, RCC_SW_HSI << 2, CLOCKSWITCH_TIMEOUT_MS)
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
    uint32_t source = 0u;
#if HS_HSE_HZ
#if HS_HSE_BYPASS
    RCC_CR |= RCC_CR_HSEBYP; /* external clock (an ST-LINK's MCO), not a crystal */
#endif
    RCC_CR |= RCC_CR_HSEON;
    if (HAL_WaitForFlag(&RCC_CR, RCC_CR_HSERDY, RCC_CR_HSERDY, HSE_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    source = RCC_PLLCFGR_SRC_HSE;
#endif
    /* PLLP encodes /2, /4, /6, /8 as 0..3; PLLQ (USB, SDIO) keeps its reset value */
    RCC_PLLCFGR = (RCC_PLLCFGR & ~RCC_PLLCFGR_M_N_P_SRC) | source | HS_PLL_M | (HS_PLL_N << 6)
                  | ((HS_PLL_P / 2u - 1u) << 16);
    RCC_CR |= RCC_CR_PLLON;
    return HAL_WaitForFlag(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY, PLL_TIMEOUT_MS);
}

#if defined(HS_FAMILY_F7)
/* Above 180 MHz the regulator needs over-drive: enable it, then switch to it. */
static HAL_StatusTypeDef HAL_PWREx_EnableOverDrive(void)
{
    PWR_CR |= PWR_CR_ODEN;
    if (HAL_WaitForFlag(&PWR_CSR, PWR_CSR_ODRDY, PWR_CSR_ODRDY, PWR_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    PWR_CR |= PWR_CR_ODSWEN;
    return HAL_WaitForFlag(&PWR_CSR, PWR_CSR_ODSWRDY, PWR_CSR_ODSWRDY, PWR_TIMEOUT_MS);
}
#endif

static HAL_StatusTypeDef HAL_RCC_ClockConfig(void)
{
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_PRE) | RCC_CFGR_PRE_VALUE;
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
    RCC_APB1ENR |= RCC_APB1ENR_PWREN;
    (void)RCC_APB1ENR;
    if (FLASH_SetLatency() != HAL_OK || RCC_RestartFromHsi() != HAL_OK) {
        return HAL_ERROR;
    }
    PWR_CR |= PWR_CR_VOS_SCALE1;
    if (HAL_RCC_OscConfig() != HAL_OK) {
        return HAL_ERROR;
    }
    /* VOSRDY only reports once the PLL runs */
    if (HAL_WaitForFlag(&PWR_CSR, PWR_CSR_VOSRDY, PWR_CSR_VOSRDY, PWR_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
#if defined(HS_FAMILY_F7)
    if (HAL_PWREx_EnableOverDrive() != HAL_OK) {
        return HAL_ERROR;
    }
#endif
    return HAL_RCC_ClockConfig();
}
