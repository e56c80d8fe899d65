/* An application with code in the internal flash and a table in the external QSPI flash. */
#include <stdint.h>

extern uint32_t _stack_top;
void reset_handler(void);

__attribute__((section(".vectors"), used)) const uint32_t vectors[2] = {
    (uint32_t)&_stack_top,
    (uint32_t)reset_handler,
};

/* Lives in the external flash (the loader programs it); the application only links to it. */
__attribute__((section(".qspi"), used)) const uint8_t table[0x3000] = {
    [0] = 0x42, [1] = 0x17, [0x1000] = 0x99, [0x2FFF] = 0x5A,
};

volatile uint32_t counter __attribute__((section(".noinit")));

void reset_handler(void)
{
    counter = 0;
    for (;;)
        counter++;
}
