/* Wraps the generator's Write so that it fails once the host writes at or beyond FAIL_AT (an
 * offset into the device): a loader that gives up half-way through a job, as a failing chip or a
 * brown-out would. The generated sources are compiled with -DWrite=generated_Write. */
#include <stdint.h>

#undef Write
int generated_Write(uint32_t Address, uint32_t Size, uint8_t *buffer);

__attribute__((used, noinline, section(".text.Write")))
int Write(uint32_t Address, uint32_t Size, uint8_t *buffer)
{
    if ((Address & 0x0FFFFFFFu) + Size > FAIL_AT) {
        return 0;
    }
    return generated_Write(Address, Size, buffer);
}
