#ifndef AGORA_CFUZZDRIVER_H
#define AGORA_CFUZZDRIVER_H
#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver (in the runtime that -sanitize=fuzzer links): runs the fuzzing loop with the
// process's own arguments (-max_total_time=..., corpus folders) and calls `callback` per input.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
