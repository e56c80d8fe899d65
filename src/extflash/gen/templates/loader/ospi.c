/* OCTOSPI and XSPI controller driver: indirect commands, automatic status polling,
 * memory-mapped mode and the IO manager (the command sequence, the data phase and flag waits are
 * in xfer.c).
 *
 * The two controllers share one register map (RM0455/RM0468/RM0456/RM0438/RM0432/RM0481 OCTOSPI,
 * RM0477 XSPI; peripherals.md §4.2 and §6.2): XSPI has no DLYBYP (it calibrates itself; U5's
 * OCTOSPI has none either) and adds CSSEL/MSEL, left at reset (nCS1, data on IO[7:0]).
 * The functional mode is CR.FMODE; a command starts on the IR write when it has no address and
 * nothing to send, on the AR write when it has an address, and on the first DR write of an
 * indirect write with data (peripherals.md §4.3), so the order is CR.FMODE, DLR, TCR, CCR, IR,
 * then AR. */
#include "loader.h"

_Static_assert(__builtin_offsetof(ospi_regs_t, CCR) == 0x100u, "OCTOSPI_CCR at 0x100");
_Static_assert(__builtin_offsetof(ospi_regs_t, WIR) == 0x190u, "OCTOSPI_WIR at 0x190");

#define IOM_NONE     0
#define IOM_OCTOSPIM 1
#define IOM_XSPIM    2

/* CR while the controller runs: qspi_setup's value, which only FMODE changes (ABORT clears
 * itself), so a command's FMODE change needs no CR read and no copy in RAM. */
#define CR_RUN (OSPI_CR_FTHRES(CTL_FIFO_WORD) | OSPI_CR_APMS | OSPI_CR_EN)

/* MTYP selects the 8D byte order (Macronix D1/D0 or Micron D0/D1); DEVSIZE: 2^(n+1) bytes;
 * CSHT: nCS high cycles - 1 between commands; DLYBYP: no delay-block calibration. */
#define DCR1_RUN (OSPI_DCR1_MTYP(CTL_MTYP) | OSPI_DCR1_DEVSIZE(CTL_DEVSIZE) \
                  | OSPI_DCR1_CSHT(CTL_CSHT) | (CTL_DLYBYP ? OSPI_DCR1_DLYBYP : 0u))

static void set_fmode(uint32_t fmode)
{
    CTL->CR = CR_RUN | OSPI_CR_FMODE(fmode);
}

/* TCR, CCR and IR from the command word (regs.h): its fields sit where the registers have them. */
static inline __attribute__((always_inline)) uint32_t cmd_tcr(ctl_cmd_t cmd)
{
    uint32_t high = (uint32_t)(cmd >> 32);
    return (high & TCR_DCYC_MASK) | (((uint32_t)cmd & OSPI_CCR_IDTR) ? OSPI_TCR_DHQC : OSPI_TCR_SSHIFT);
}

static inline __attribute__((always_inline)) uint32_t cmd_ccr(ctl_cmd_t cmd)
{
    return (uint32_t)cmd & ~CCR_FMODE_MASK;
}

static inline __attribute__((always_inline)) uint32_t cmd_ir(ctl_cmd_t cmd)
{
    return (uint32_t)(cmd >> 40) & 0xFFFFu;
}

static inline __attribute__((always_inline)) void command_regs(ctl_cmd_t cmd)
{
    CTL->TCR = cmd_tcr(cmd);
    CTL->CCR = cmd_ccr(cmd);
    CTL->IR = cmd_ir(cmd);
}

/* CR.FMODE, TCR, CCR, IR, then AR: the IR or AR write starts the command. */
void ctl_issue(ctl_cmd_t cmd, uint32_t addr)
{
    set_fmode(((uint32_t)cmd & CCR_FMODE_MASK) >> 22);
    command_regs(cmd);
    if ((uint32_t)cmd & CCR_ADMODE_MASK)
        CTL->AR = addr;
}

static int stop(volatile uint32_t *cr)
{
    *cr |= OSPI_CR_ABORT;
    timeout_t t;
    timeout_start(&t, CTL_FLAG_TIMEOUT_MS);
    while (*cr & OSPI_CR_ABORT) {
        if (timeout_expired(&t))
            return 0;
    }
    return 1;
}

void qspi_abort(void)
{
    ctl_forget();
    /* Memory-mapped and polling modes only end with ABORT; so does a stuck transfer. */
    uint32_t fmode = (CTL->CR & OSPI_CR_FMODE_MASK) >> 28;
    if ((CTL->SR & CTL_SR_BUSY) || fmode == FMODE_MAPPED || fmode == FMODE_POLL) {
        if (stop(&CTL->CR))
            ctl_wait(CTL_SR_BUSY, 0u, CTL_FLAG_TIMEOUT_MS);
    }
    CTL->FCR = CTL_FCR_ALL;
}

#if IOM_KIND == IOM_OCTOSPIM
/* OCTOSPIM_PCRn of this controller's port (0x04 + 4 (n - 1)): CLK/DQS/NCS enable + source,
 * IOL/IOH enable + source (IOxSRC: 00 OCTOSPI1 IO[3:0], 01 OCTOSPI1 IO[7:4], 10 OCTOSPI2
 * IO[3:0], 11 IO[7:4]). */
#define IOM_PORT_PCR (*(volatile uint32_t *)(IOM_BASE + 0x04u + 4u * (IOM_PORT - 1u)))

static uint32_t port_pcr(void)
{
    const uint32_t src = IOM_SRC;
    uint32_t pcr = (1u << 0) | (src << 1) | (1u << 8) | (src << 9) | (1u << 16) | ((2u * src) << 17);
#if IOM_OCTAL
    pcr |= (1u << 24) | ((2u * src + 1u) << 25);
#endif
#if IOM_DQS
    pcr |= (1u << 4) | (src << 5);
#endif
    return pcr;
}
#elif IOM_KIND == IOM_XSPIM
/* XSPIM_CR.MODE = 1 swaps the ports: XSPI1 on port 2, XSPI2 on port 1 */
#define IOM_CR (*(volatile uint32_t *)IOM_BASE)
#define IOM_MODE_SWAP (1u << 1)
#endif

#if IOM_KIND != IOM_NONE
/* The IO manager routes the port's pins to this controller; both controllers are disabled while
 * it changes, as HAL_OSPIM_Config / HAL_XSPIM_Config do (peripherals.md §5 OCTOSPIM, §6.2
 * XSPIM). */
static void route_port(void)
{
    volatile uint32_t *peer = (volatile uint32_t *)IOM_PEER_BASE;   /* its CR */
    uint32_t peer_enabled = *peer & OSPI_CR_EN;
    *peer &= ~OSPI_CR_EN;
#if IOM_KIND == IOM_OCTOSPIM
    /* Groups this controller drives on another port are released first; its own port's PCR is
     * written whole below (releasing it first would only drop the pins for a moment). */
    const uint32_t src = IOM_SRC;
    for (uint32_t port = 0; port < IOM_PORTS; port++) {
        if (port == IOM_PORT - 1u)
            continue;
        volatile uint32_t *pcr = (volatile uint32_t *)(IOM_BASE + 0x04u + 4u * port);
        uint32_t v = *pcr;
        if (((v >> 1) & 1u) == src)
            v &= ~(1u << 0);
        if (((v >> 5) & 1u) == src)
            v &= ~(1u << 4);
        if (((v >> 9) & 1u) == src)
            v &= ~(1u << 8);
        if (((v >> 18) & 1u) == src)
            v &= ~(1u << 16);
        if (((v >> 26) & 1u) == src)
            v &= ~(1u << 24);
        *pcr = v;
    }
    IOM_PORT_PCR = port_pcr();
#else
    IOM_CR = (IOM_CR & ~IOM_MODE_SWAP) | (IOM_SWAP ? IOM_MODE_SWAP : 0u);
#endif
    *peer |= peer_enabled;
}
#endif

int qspi_setup(void)
{
    qspi_abort();
    CTL->CR = 0u;                               /* EN = 0: CR and DCRx may be reprogrammed */
#if IOM_KIND != IOM_NONE
    route_port();
#endif
    CTL->DCR1 = DCR1_RUN;
    CTL->DCR2 = CTL_PRESCALER;
    CTL->DCR3 = 0u;
    CTL->DCR4 = 0u;                             /* no refresh: a NOR flash needs none */
    CTL->PIR = CTL_POLL_INTERVAL;               /* written while BUSY = 0 (after the abort) */
    CTL->CR = CR_RUN & ~OSPI_CR_EN;
    CTL->CR = CR_RUN;
    return 1;
}

int qspi_map(void)
{
    if (!ctl_wait(CTL_SR_BUSY, 0u, CTL_FLAG_TIMEOUT_MS))
        return 0;
    /* Programmed in indirect-write mode, where a command with data never starts before DR is
     * written; FMODE = 3 then maps the window with this read command. */
    set_fmode(FMODE_WRITE);
    CTL->ABR = READ_MODE_BYTE;
    command_regs(READ_CCR);
    set_fmode(FMODE_MAPPED);
    return 1;
}

/* Does the controller hold exactly what qspi_setup and qspi_map leave: memory-mapped with the read
 * command, this clock, device size and byte order, its port routed here? Registers read back what
 * was written (reserved bits as 0), and a reset of the controller (system reset, RCC peripheral
 * reset) or another set-up changes at least one of them. */
int qspi_still_mapped(void)
{
    return CTL->CR == (CR_RUN | OSPI_CR_FMODE(FMODE_MAPPED))
        && CTL->DCR1 == DCR1_RUN && CTL->DCR2 == CTL_PRESCALER && CTL->DCR3 == 0u
        && CTL->DCR4 == 0u && CTL->ABR == READ_MODE_BYTE && CTL->TCR == cmd_tcr(READ_CCR)
        && CTL->CCR == cmd_ccr(READ_CCR) && CTL->IR == cmd_ir(READ_CCR)
#if IOM_KIND == IOM_OCTOSPIM
        && IOM_PORT_PCR == port_pcr()
#elif IOM_KIND == IOM_XSPIM
        && (IOM_CR & IOM_MODE_SWAP) == (IOM_SWAP ? IOM_MODE_SWAP : 0u)
#endif
        ;
}
