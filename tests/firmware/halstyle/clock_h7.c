/*
 * STM32H7 clock tree, HAL_RCC/HAL_PWREx style: every ready flag is polled with a
 * HAL_GetTick() timeout. SYSCLK = PLL1 P output (HS_SYSCLK_HZ, 200 MHz) at voltage scale 1,
 * with the PLL input from HSI (64 MHz) or HSE (HS_HSE_HZ). M/N/P and the input range come
 * from build.py, which solves them for the oscillator. Register offsets from the STM32H743 and
 * STM32H745_CM7 SVD files (RCC, PWR, Flash).
 */
#include "hal.h"

#define RCC_CR        HS_REG(HS_RCC_BASE, 0x00u)
#define RCC_CFGR      HS_REG(HS_RCC_BASE, 0x10u)
#define RCC_D1CFGR    HS_REG(HS_RCC_BASE, 0x18u)
#define RCC_D2CFGR    HS_REG(HS_RCC_BASE, 0x1Cu)
#define RCC_D3CFGR    HS_REG(HS_RCC_BASE, 0x20u)
#define RCC_PLLCKSELR HS_REG(HS_RCC_BASE, 0x28u)
#define RCC_PLLCFGR   HS_REG(HS_RCC_BASE, 0x2Cu)
#define RCC_PLL1DIVR  HS_REG(HS_RCC_BASE, 0x30u)
#define RCC_PLL1FRACR HS_REG(HS_RCC_BASE, 0x34u)
#define PWR_CSR1      HS_REG(HS_PWR_BASE, 0x04u)
#define PWR_CR3       HS_REG(HS_PWR_BASE, 0x0Cu)
#define PWR_D3CR      HS_REG(HS_PWR_BASE, 0x18u)
#define FLASH_ACR     HS_REG(HS_FLASH_BASE, 0x00u)

#define RCC_CR_HSION    (1u << 0)
#define RCC_CR_HSIRDY   (1u << 2)
#define RCC_CR_HSIDIV   (3u << 3)
#define RCC_CR_HSEON    (1u << 16)
#define RCC_CR_HSERDY   (1u << 17)
#define RCC_CR_HSEBYP   (1u << 18)
#define RCC_CR_PLL1ON   (1u << 24)
#define RCC_CR_PLL1RDY  (1u << 25)
#define RCC_CFGR_SW     (7u << 0)
#define RCC_CFGR_SWS    (7u << 3)
#define RCC_SW_HSI      0u
#define RCC_SW_PLL1     3u

#define PWR_CR3_SUPPLY_MASK (7u << 0) /* BYPASS, LDOEN, SCUEN (H743) / SDEN (H745) */
#define PWR_SUPPLY_LDO      (1u << 1)
#define PWR_SUPPLY_SMPS     (1u << 2) /* direct SMPS on the dual-core parts */
#define PWR_CSR1_ACTVOSRDY  (1u << 13)
#define PWR_D3CR_VOS        (3u << 14)
#define PWR_D3CR_VOS_SCALE1 (3u << 14)
#define PWR_D3CR_VOSRDY     (1u << 13)

#define FLASH_ACR_LATENCY    (0xFu << 0)
#define FLASH_ACR_WRHIGHFREQ (3u << 4)
/* RM0433 table 17, VOS1: 2 wait states and WRHIGHFREQ = 2 up to 210 MHz AXI clock. */
#define FLASH_LATENCY_VALUE  (2u | (2u << 4))
_Static_assert(HS_SYSCLK_HZ <= 210000000u, "flash latency below is for <= 210 MHz");

#define HSI_TIMEOUT_MS          2u
#define HSE_TIMEOUT_MS          100u
#define PLL_TIMEOUT_MS          2u
#define PWR_TIMEOUT_MS          1000u
#define CLOCKSWITCH_TIMEOUT_MS  5000u

#if HS_H7_SMPS
#define PWR_SUPPLY PWR_SUPPLY_SMPS
#else
#define PWR_SUPPLY PWR_SUPPLY_LDO
#endif

/* The supply configuration can be written once per power-up: leave it if it is already ours
 * (a second Init, or the application set it), and check the write took. */
static HAL_StatusTypeDef HAL_PWREx_ConfigSupply(void)
{
    if ((PWR_CR3 & PWR_CR3_SUPPLY_MASK) != PWR_SUPPLY) {
        PWR_CR3 = (PWR_CR3 & ~PWR_CR3_SUPPLY_MASK) | PWR_SUPPLY;
        if ((PWR_CR3 & PWR_CR3_SUPPLY_MASK) != PWR_SUPPLY) {
            return HAL_ERROR;
        }
    }
    return HAL_WaitForFlag(&PWR_CSR1, PWR_CSR1_ACTVOSRDY, PWR_CSR1_ACTVOSRDY, PWR_TIMEOUT_MS);
}

/* More wait states than needed are always safe, so set the final latency before any change. */
static HAL_StatusTypeDef FLASH_SetLatency(void)
{
    FLASH_ACR = (FLASH_ACR & ~(FLASH_ACR_LATENCY | FLASH_ACR_WRHIGHFREQ)) | FLASH_LATENCY_VALUE;
    if ((FLASH_ACR & (FLASH_ACR_LATENCY | FLASH_ACR_WRHIGHFREQ)) != FLASH_LATENCY_VALUE) {
        return HAL_ERROR;
    }
    return HAL_OK;
}

/* A repeated Init finds PLL1 driving SYSCLK, and a PLL in use cannot be reconfigured: go back
 * to HSI with unit prescalers first, as HAL_RCC_DeInit does. */
static HAL_StatusTypeDef RCC_RestartFromHsi(void)
{
    RCC_CR = (RCC_CR & ~RCC_CR_HSIDIV) | RCC_CR_HSION;
    if (HAL_WaitForFlag(&RCC_CR, RCC_CR_HSIRDY, RCC_CR_HSIRDY, HSI_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW) | RCC_SW_HSI;
    if (HAL_WaitForFlag(&RCC_CFGR, RCC_CFGR_SWS, RCC_SW_HSI << 3, CLOCKSWITCH_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    RCC_D1CFGR = 0u;
    RCC_D2CFGR = 0u;
    RCC_D3CFGR = 0u;
    SystemCoreClock = HS_HSI_HZ;
    if (HAL_InitTick(TICK_INT_PRIORITY) != HAL_OK) {
        return HAL_ERROR;
    }
    RCC_CR &= ~RCC_CR_PLL1ON;
    return HAL_WaitForFlag(&RCC_CR, RCC_CR_PLL1RDY, 0u, PLL_TIMEOUT_MS);
}

static HAL_StatusTypeDef HAL_RCC_OscConfig(void)
{
#if HS_HSE_HZ
#if HS_HSE_BYPASS
    RCC_CR |= RCC_CR_HSEBYP; /* external clock (an ST-LINK's MCO), not a crystal */
#endif
    RCC_CR |= RCC_CR_HSEON;
    if (HAL_WaitForFlag(&RCC_CR, RCC_CR_HSERDY, RCC_CR_HSERDY, HSE_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    const uint32_t source = 2u; /* PLLSRC = HSE */
#else
    const uint32_t source = 0u; /* PLLSRC = HSI */
#endif
    RCC_PLLCKSELR = (RCC_PLLCKSELR & ~((3u << 0) | (0x3Fu << 4))) | source | (HS_PLL_M << 4);
    RCC_PLL1DIVR = (HS_PLL_N - 1u) | ((HS_PLL_P - 1u) << 9) | ((HS_PLL_P - 1u) << 16)
                   | ((HS_PLL_P - 1u) << 24);
    RCC_PLL1FRACR = 0u;
    /* PLL1: no fractional part, input range RGE, wide VCO, only the P output enabled */
    uint32_t cfg = RCC_PLLCFGR & ~((1u << 0) | (1u << 1) | (3u << 2) | (7u << 16));
    RCC_PLLCFGR = cfg | ((uint32_t)HS_PLL_RGE << 2) | (1u << 16);
    RCC_CR |= RCC_CR_PLL1ON;
    return HAL_WaitForFlag(&RCC_CR, RCC_CR_PLL1RDY, RCC_CR_PLL1RDY, PLL_TIMEOUT_MS);
}

static HAL_StatusTypeDef HAL_RCC_ClockConfig(void)
{
    /* CPU = SYSCLK, AHB/AXI = SYSCLK, every APB = SYSCLK / 2 (D1PPRE, D2PPRE1/2, D3PPRE = 4) */
    RCC_D1CFGR = (4u << 4);
    RCC_D2CFGR = (4u << 4) | (4u << 8);
    RCC_D3CFGR = (4u << 4);
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW) | RCC_SW_PLL1;
    if (HAL_WaitForFlag(&RCC_CFGR, RCC_CFGR_SWS, RCC_SW_PLL1 << 3, CLOCKSWITCH_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    SystemCoreClock = HS_SYSCLK_HZ;
    return HAL_InitTick(TICK_INT_PRIORITY);
}

HAL_StatusTypeDef SystemClock_Config(void)
{
    if (FLASH_SetLatency() != HAL_OK || RCC_RestartFromHsi() != HAL_OK) {
        return HAL_ERROR;
    }
    if (HAL_PWREx_ConfigSupply() != HAL_OK) {
        return HAL_ERROR;
    }
    PWR_D3CR = (PWR_D3CR & ~PWR_D3CR_VOS) | PWR_D3CR_VOS_SCALE1;
    if (HAL_WaitForFlag(&PWR_D3CR, PWR_D3CR_VOSRDY, PWR_D3CR_VOSRDY, PWR_TIMEOUT_MS) != HAL_OK) {
        return HAL_TIMEOUT;
    }
    if (HAL_RCC_OscConfig() != HAL_OK) {
        return HAL_ERROR;
    }
    return HAL_RCC_ClockConfig();
}
