// The declaration in cfuzzdriver.h is all this target provides: libFuzzer defines the function.
#include "cfuzzdriver.h"
