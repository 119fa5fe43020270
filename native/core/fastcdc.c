#include "fastcdc.h"

#include <math.h>

#include "gear_table.h"

/* Normalization masks indexed by their number of one bits (5..24); entries below 5 unused. */
static const uint64_t MASKS[25] = {
    0, 0, 0, 0, 0,
    UINT64_C(0x0000000001804110), UINT64_C(0x0000000001803110), UINT64_C(0x0000000018035100),
    UINT64_C(0x0000001800035300), UINT64_C(0x0000019000353000), UINT64_C(0x0000590003530000),
    UINT64_C(0x0000d90003530000), UINT64_C(0x0000d90103530000), UINT64_C(0x0000d90303530000),
    UINT64_C(0x0000d90313530000), UINT64_C(0x0000d90f03530000), UINT64_C(0x0000d90303537000),
    UINT64_C(0x0000d90703537000), UINT64_C(0x0000d90707537000), UINT64_C(0x0000d91707537000),
    UINT64_C(0x0000d91747537000), UINT64_C(0x0000d93767537000), UINT64_C(0x0000d93777537000),
    UINT64_C(0x0000d93777577000), UINT64_C(0x0000db3777577000),
};
#define MASK_BITS_LOWEST 5u
#define MASK_BITS_HIGHEST 24u

cdc_status cdc_params_init(cdc_params *params, uint64_t min_size, uint64_t avg_size, uint64_t max_size,
                           uint32_t normalization, uint64_t seed) {
  if (min_size < CDC_MIN_SIZE_LOWER_BYTES || min_size > CDC_MIN_SIZE_UPPER_BYTES) return CDC_ERR_MIN_SIZE;
  if (avg_size < CDC_AVG_SIZE_LOWER_BYTES || avg_size > CDC_AVG_SIZE_UPPER_BYTES) return CDC_ERR_AVG_SIZE;
  if (max_size < CDC_MAX_SIZE_LOWER_BYTES || max_size > CDC_MAX_SIZE_UPPER_BYTES) return CDC_ERR_MAX_SIZE;
  if (min_size > avg_size || avg_size > max_size) return CDC_ERR_SIZE_ORDER;
  if (normalization > CDC_NORMALIZATION_MAX) return CDC_ERR_NORMALIZATION;

  /* The crate rounds log2 to nearest (not floor): an avg of 3 MiB selects the 4 MiB masks. */
  uint32_t bits = (uint32_t)lround(log2((double)avg_size));
  if (bits + normalization > MASK_BITS_HIGHEST || bits < MASK_BITS_LOWEST + normalization) {
    return CDC_ERR_NORMALIZATION;
  }

  params->min_size = (uint32_t)min_size;
  params->avg_size = (uint32_t)avg_size;
  params->max_size = (uint32_t)max_size;
  params->normalization = normalization;
  params->seed = seed;
  params->mask_s = MASKS[bits + normalization];
  params->mask_l = MASKS[bits - normalization];
  params->mask_s_ls = params->mask_s << 1;
  params->mask_l_ls = params->mask_l << 1;
  for (int i = 0; i < 256; i++) {
    params->gear[i] = CHUNKER_GEAR[i] ^ seed;
    params->gear_ls[i] = (CHUNKER_GEAR[i] << 1) ^ (seed << 1);
  }
  return CDC_OK;
}

const char *cdc_status_message(cdc_status status) {
  switch (status) {
    case CDC_OK: return "ok";
    case CDC_ERR_MIN_SIZE: return "min_size must be between 64 and 1048576 bytes";
    case CDC_ERR_AVG_SIZE: return "avg_size must be between 256 and 4194304 bytes";
    case CDC_ERR_MAX_SIZE: return "max_size must be between 1024 and 16777216 bytes";
    case CDC_ERR_SIZE_ORDER: return "sizes must satisfy min_size <= avg_size <= max_size";
    case CDC_ERR_NORMALIZATION:
      return "normalization level must be 0..3 and leave a mask for avg_size (log2(avg) +/- level within 5..24)";
  }
  return "unknown status";
}

size_t cdc_cut(const cdc_params *params, const uint8_t *src, size_t n, uint64_t *gear) {
  const size_t min_size = params->min_size;
  if (n <= min_size) {
    *gear = 0;
    return n;
  }
  const size_t remaining = n < params->max_size ? n : params->max_size;
  const size_t center = n < params->avg_size ? n : params->avg_size;
  const uint64_t *const g = params->gear;
  const uint64_t *const g_ls = params->gear_ls;
  uint64_t hash = 0;

  /* Byte offsets advance two at a time; `a` is always even (min_size/2*2 rounds down). */
  size_t a = (min_size / 2) * 2;
  const size_t center_end = (center / 2) * 2;
  const size_t remaining_end = (remaining / 2) * 2;

  const uint64_t mask_s = params->mask_s, mask_s_ls = params->mask_s_ls;
  for (; a < center_end; a += 2) {
    hash = (hash << 2) + g_ls[src[a]];
    if ((hash & mask_s_ls) == 0) goto cut_here;
    hash += g[src[a + 1]];
    if ((hash & mask_s) == 0) goto cut_after;
  }
  const uint64_t mask_l = params->mask_l, mask_l_ls = params->mask_l_ls;
  for (; a < remaining_end; a += 2) {
    hash = (hash << 2) + g_ls[src[a]];
    if ((hash & mask_l_ls) == 0) goto cut_here;
    hash += g[src[a + 1]];
    if ((hash & mask_l) == 0) goto cut_after;
  }
  *gear = hash;
  return remaining;

cut_here:
  *gear = hash;
  return a;
cut_after:
  *gear = hash;
  return a + 1;
}

size_t cdc_scan(const cdc_params *params, const uint8_t *src, size_t n, int at_end, uint32_t *lengths,
                uint64_t *gears, size_t capacity, size_t byte_budget, size_t *consumed) {
  size_t start = 0;
  size_t count = 0;
  while (count < capacity && start < n && start < byte_budget) {
    const size_t available = n - start;
    if (!at_end && available < params->max_size) break;
    const size_t length = cdc_cut(params, src + start, available, &gears[count]);
    lengths[count] = (uint32_t)length;
    count++;
    start += length;
  }
  *consumed = start;
  return count;
}
