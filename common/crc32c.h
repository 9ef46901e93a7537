/*
 * crc32c.h — CRC-32C (Castagnoli), the checksum of the commit log's records
 * (runtime/clog.c). The SSE4.2 instruction where the CPU has it (chosen once,
 * at the first call), a table otherwise; both give the same value.
 */
#ifndef DURO_CRC32C_H
#define DURO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of p[0..n) continued from crc (0 to start). */
uint32_t duro_crc32c(uint32_t crc, const void *p, size_t n);

/* The portable path alone (tests compare the two). */
uint32_t duro_crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
