/*
 * The cost of the first write to fresh memory. The kernel zeroes a whole
 * 2 MiB page where the block is advised for huge pages, and a 4 KiB page
 * otherwise. Maps N blocks of 2 MiB advised for huge pages and times the
 * first write to each, then writes once to every 4 KiB of N blocks that
 * are not advised. Prints one JSON line with milliseconds per 2 MiB.
 *
 *   page_zeroing [N]     (default 48, the huge pages of a 96 MiB table)
 *
 * Where transparent huge pages are `never`, both rows measure 4 KiB pages.
 */
#define _DEFAULT_SOURCE

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define HUGE_PAGE ((size_t)2 * 1024 * 1024)
#define SMALL_PAGE ((size_t)4096)


static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}


/* Maps count huge pages on a 2 MiB boundary, one page more than needed
 * so that an aligned start exists. */
static volatile char *map_aligned(size_t count)
{
    char *base = mmap(NULL, (count + 1) * HUGE_PAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        perror("page_zeroing: mmap");
        exit(1);
    }
    return (char *)(((uintptr_t)base + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
}


int main(int argc, char **argv)
{
    size_t count = argc > 1 ? (size_t)atol(argv[1]) : 48;
    if (count == 0) {
        fprintf(stderr, "usage: page_zeroing [N], N a whole number of 2 MiB blocks, 1 or more\n");
        return 2;
    }

    volatile char *huge = map_aligned(count);
    madvise((void *)huge, count * HUGE_PAGE, MADV_HUGEPAGE);
    double total = 0;
    double max = 0;
    for (size_t k = 0; k < count; k++) {
        double start = now_ms();
        huge[k * HUGE_PAGE] = 1;
        double took = now_ms() - start;
        total += took;
        if (took > max)
            max = took;
    }

    volatile char *small = map_aligned(count);
    madvise((void *)small, count * HUGE_PAGE, MADV_NOHUGEPAGE);
    double start = now_ms();
    for (size_t offset = 0; offset < count * HUGE_PAGE; offset += SMALL_PAGE)
        small[offset] = 1;
    double small_total = now_ms() - start;

    printf("{\"bench\":\"page_zeroing\",\"blocks\":%zu,\"huge_ms_mean\":%.2f,"
           "\"huge_ms_max\":%.2f,\"small_pages_ms_per_2mib\":%.2f}\n",
           count, total / (double)count, max, small_total / (double)count);
    return 0;
}
