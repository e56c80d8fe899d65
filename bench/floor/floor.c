/* Engine floor: how fast unicorn runs the HAL-style byte loop (loop.bin) with the controller's
 * registers served by C callbacks, with and without an instruction count. */
#include <unicorn/unicorn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CODE 0x24000000u
#define DATA 0x24100000u
#define RETURN 0x24080000u
#define QSPI 0x52005000u

static uint64_t accesses;

static int read_pc;     /* mode 4: the callbacks read the PC, as a per-block count would */

static void note_pc(uc_engine *uc)
{
    uint32_t pc;
    if (read_pc)
        uc_reg_read(uc, UC_ARM_REG_PC, &pc);
}

static uint64_t reg_read(uc_engine *uc, uint64_t offset, unsigned size, void *ud)
{
    accesses++;
    note_pc(uc);
    return offset == 0x08 ? 0x4u : 0u; /* SR: FTF always set */
}

static void reg_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *ud)
{
    accesses++;
    note_pc(uc);
}

static uint64_t instructions;

/* a memory hook on the registers that does nothing: unicorn then writes the PC back before each
 * access it covers, so the MMIO callbacks read the accessing instruction's address */
static void mem_nop(uc_engine *uc, uc_mem_type type, uint64_t address, int size, int64_t value,
                    void *ud)
{
    (void)uc; (void)type; (void)address; (void)size; (void)value; (void)ud;
}

static void count_block(uc_engine *uc, uint64_t address, uint32_t size, void *ud)
{
    (void)uc; (void)address; (void)size; (void)ud;
}

static void count_insn(uc_engine *uc, uint64_t address, uint32_t size, void *ud)
{
    instructions++;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* argv: loop.bin bytes mode(0 plain, 1 count=, 2 code hook, 3 block hook, 4 block hook and
 * a memory hook on the registers, the PC read at each access) page_size [ram] */
int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: floor loop.bin bytes mode page [ram]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    static uint8_t code[0x10000];
    size_t n = f ? fread(code, 1, sizeof code, f) : 0;
    if (f) fclose(f);
    uint32_t bytes = (uint32_t)strtoul(argv[2], 0, 0);
    int mode = atoi(argv[3]);
    int page = atoi(argv[4]);
    uc_engine *uc;
    if (uc_open(UC_ARCH_ARM, UC_MODE_THUMB, &uc) != UC_ERR_OK) return 1;
    uc_ctl_set_cpu_model(uc, UC_CPU_ARM_CORTEX_M7);
    if (page) uc_ctl_set_page_size(uc, page);
    uc_mem_map(uc, CODE, 0x200000, UC_PROT_ALL);
    if (argc > 5 && argv[5][0] == 'r') {
        /* the registers as plain memory, SR with FTF set: what an engine without memory-mapped
         * I/O callbacks can run (the comparison with icicle-emu) */
        uint32_t ftf = 0x4u;
        uc_mem_map(uc, QSPI & ~0xFFFu, 0x1000, UC_PROT_ALL);
        uc_mem_write(uc, QSPI + 0x08, &ftf, 4);
    } else {
        uc_mmio_map(uc, QSPI, 0x400, reg_read, 0, reg_write, 0);
    }
    uc_mem_write(uc, CODE, code, n);
    uint32_t r0 = DATA, r1 = bytes, sp = 0x24090000, lr = RETURN | 1;
    uc_reg_write(uc, UC_ARM_REG_R0, &r0);
    uc_reg_write(uc, UC_ARM_REG_R1, &r1);
    uc_reg_write(uc, UC_ARM_REG_SP, &sp);
    uc_reg_write(uc, UC_ARM_REG_LR, &lr);
    uc_hook hook;
    if (mode == 2) uc_hook_add(uc, &hook, UC_HOOK_CODE, count_insn, 0, 1, 0);
    if (mode == 3 || mode == 4) uc_hook_add(uc, &hook, UC_HOOK_BLOCK, count_block, 0, 1, 0);
    if (mode == 4) {
        uc_hook mem;
        uc_hook_add(uc, &mem, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, mem_nop, 0, QSPI,
                    QSPI + 0x3FF);
        read_pc = 1;
    }
    double t = now();
    uc_err err = uc_emu_start(uc, CODE | 1, RETURN, 0, mode == 1 ? 4000000000u : 0);
    t = now() - t;
    uint32_t r0_out;
    uc_reg_read(uc, UC_ARM_REG_R0, &r0_out);
    printf("%s %u %.3f %lu %lu %u\n", uc_strerror(err), r0_out, t * 1e9 / bytes,
           (unsigned long)accesses, (unsigned long)instructions, bytes);
    return err != UC_ERR_OK || r0_out != 0;
}
