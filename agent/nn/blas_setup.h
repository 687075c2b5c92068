/* blas_setup.h: keep o2o off OpenBLAS's slow fallback kernels, and size its thread pool.
 *
 * Debian 12's OpenBLAS 0.3.21 does not recognise recent Intel CPUs and silently runs its
 * generic "Prescott" (SSE3) kernels, ~5x slower. OpenBLAS picks its kernels when the library
 * loads, before main(), from OPENBLAS_CORETYPE. So o2o_blas_setup, called first thing in
 * main(), does:
 *   - OPENBLAS_CORETYPE set by the user: respected, nothing else happens.
 *   - else, if openblas_get_corename() is a generic/old kernel (Prescott, Core2, Nehalem, ...)
 *     and cpuid reports AVX-512 (-> SkylakeX) or AVX2+FMA (-> Haswell): re-execute
 *     /proc/self/exe with OPENBLAS_CORETYPE set (marker O2O_BLAS_REEXEC guards against loops);
 *     the new process checks sgemm against a naive reference and says once on stderr what it
 *     chose. If the check fails it re-executes once more without the variable (and warns).
 *   - denormals: flushed to zero (FTZ + DAZ in MXCSR) in this thread and OpenBLAS's workers,
 *     see o2o_fp_flush_denormals.
 *   - threads: O2O_BLAS_THREADS=n, else OPENBLAS_NUM_THREADS if the user set it, else 1
 *     (measured best for batch-256 SAC on 2 cores: `o2o bench sac --threads 2` to compare).
 * Tests and other programs call it too (argc 0 / argv NULL reads /proc/self/cmdline).
 * Test hooks: O2O_BLAS_ASSUME_GENERIC=1 treats any kernel as generic (the re-exec path on a
 * CPU that OpenBLAS does recognise); O2O_BLAS_TEST_SELFCHECK_FAIL=1 fails the self-check
 * after the re-exec (the fallback path). */
#pragma once

void o2o_blas_setup(int argc, char **argv);
/* Flush float denormals to zero (FTZ + DAZ: values below 1.2e-38 compute as 0) in this
 * thread, in threads it creates from now on and in OpenBLAS's workers (restarted). On x86 an FMA
 * on a denormal operand is a microcode assist, and long runs drift into them (the measured
 * slowdown: agent/nn/NN.md, "Denormals"). Called by o2o_blas_setup.
 * 1 = set, 0 = not x86 (nothing done). */
int o2o_fp_flush_denormals(void);
/* Set the OpenBLAS thread count (n >= 1). */
void o2o_blas_set_threads(int n);
/* "SkylakeX" etc. and the current thread count. */
const char *o2o_blas_corename(void);
int o2o_blas_threads(void);
/* sgemm vs a naive double-precision product on a few shapes and transposes: 0 = match. */
int o2o_blas_selfcheck(void);
