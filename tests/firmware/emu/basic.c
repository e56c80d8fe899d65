/* Small functions the machine tests call directly (no start-up code: the host sets SP/LR). */
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

uint32_t add3(uint32_t a, uint32_t b, uint32_t c) { return a + b + c; }

/* Enable a GPIO port clock and put one pin in an alternate function (pin_af = pin | af << 8). */
uint32_t pin_af(uint32_t rcc_enr, uint32_t enr_bit, uint32_t gpio, uint32_t pin_af)
{
    uint32_t pin = pin_af & 0xFF, af = pin_af >> 8;
    REG(rcc_enr) |= 1u << enr_bit;
    (void)REG(rcc_enr); /* read back: the clock is on before the port is touched */
    uint32_t moder = REG(gpio + 0x00);
    moder &= ~(3u << (2 * pin));
    moder |= 2u << (2 * pin);
    REG(gpio + 0x00) = moder;
    uint32_t afr_off = pin < 8 ? 0x20 : 0x24;
    uint32_t shift = 4 * (pin % 8);
    REG(gpio + afr_off) = (REG(gpio + afr_off) & ~(0xFu << shift)) | (af << shift);
    REG(gpio + 0x08) |= 3u << (2 * pin); /* very high speed */
    return REG(gpio + 0x00);
}

uint32_t read_word(uint32_t address) { return REG(address); }

/* Spin until (*address & mask) == want: hangs forever when nothing sets the bit. */
uint32_t wait_bits(uint32_t address, uint32_t mask, uint32_t want)
{
    while ((REG(address) & mask) != want) {
    }
    return 1;
}

uint32_t count_loop(uint32_t n)
{
    uint32_t acc = 0;
    for (uint32_t i = 0; i < n; i++) {
        acc = acc * 33u + i;
        __asm__ volatile("" ::: "memory");
    }
    return acc;
}

/* Start `count` operations on a busy-flag device: write CR.START, poll SR.BUSY until clear. */
uint32_t run_ops(uint32_t dev, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        REG(dev + 0x0) = 1;
        while (REG(dev + 0x4) & 1) {
        }
    }
    return count;
}

/* Poll SR.BUSY with a DWT-based timeout of `cycles`; 1 = done, 2 = timed out. */
uint32_t poll_with_dwt_timeout(uint32_t dev, uint32_t cycles)
{
    REG(0xE0001FB0u) = 0xC5ACCE55u;
    REG(0xE000EDFCu) |= 1u << 24;
    REG(0xE0001004u) = 0;
    REG(0xE0001000u) |= 1u;
    REG(dev + 0x0) = 1;
    uint32_t start = REG(0xE0001004u);
    while (REG(dev + 0x4) & 1) {
        if (REG(0xE0001004u) - start > cycles)
            return 2;
    }
    return 1;
}
