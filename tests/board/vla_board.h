/* vla_board.h - what a test program needs to run on bare metal.
 *
 * Include it once, from the test program.  The build passes
 * -DVLA_BOARD_BAREMETAL=1 for the picolibc + semihosting images (m4, m7,
 * m55, rv64-bm, rv64v-bm); hosted builds get nothing from this file except
 * the VLA_BOARD_KIND string.
 *
 * What picolibc's crt0-semihost already does (so nothing here repeats it):
 *   Cortex-M: vector table at address 0, CPACR enable of the FPU and of MVE,
 *             .data/.bss set-up, semihosting argv, fault handlers that print
 *             the registers and exit(1).
 *   RISC-V:   stack, mstatus.FS (FPU), .data/.bss, argv, trap handler that
 *             prints mcause and exits(1).
 * Exit codes reach the shell through semihosting (SYS_EXIT_EXTENDED), so
 * `return 1` from main() is exit status 1 of qemu-system.
 *
 * What it does not do, and this file adds:
 *   RISC-V V: mstatus.VS stays "Off", so the first vector instruction traps
 *             (mcause 2).  We switch it on from .preinit_array, which
 *             picolibc runs before any constructor and before main().
 */
#ifndef VLA_BOARD_H
#define VLA_BOARD_H

#if defined(VLA_BOARD_BAREMETAL)
#define VLA_BOARD_KIND "bare-metal"
#else
#define VLA_BOARD_KIND "hosted"
#endif

#if defined(VLA_BOARD_BAREMETAL) && defined(__riscv) && defined(__riscv_vector)
/* mstatus.VS is bits 10:9; 01 = Initial, which makes the V unit usable. */
static void vla_board_enable_rvv(void) {
    unsigned long vs_initial = 1ul << 9;
    __asm__ volatile("csrs mstatus, %0" : : "r"(vs_initial) : "memory");
}
__attribute__((used, section(".preinit_array"))) static void (*const vla_board_preinit_rvv)(void) = vla_board_enable_rvv;
#endif

#endif /* VLA_BOARD_H */
