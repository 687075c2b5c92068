/* nn_simd.h: compile the element-wise loops of nn.c and nn_optim.c vectorised (included
 * first, before any function). */
#pragma once

/* The element-wise loops (bias+ReLU, masks, Adam, Polyak) must vectorise and stay
 * branch-free: at the project's -O2, GCC 12 leaves them scalar with a branch per element
 * (ReLU on random signs mispredicts half the time: 40% of an update). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno")
#endif
/* ...and use AVX2/AVX-512 where the CPU has them (the build targets baseline x86-64). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SIMD_CLONES
#endif
