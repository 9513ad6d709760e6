// libFuzzer's entry for programs that have their own main. SwiftPM links an executable target
// with `main` aliased to `<Target>_main`, so libFuzzer's own main is never linked in: SwannFuzz
// defines that symbol and hands control to the driver here.
#ifndef CSWANN_FUZZ_H
#define CSWANN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
