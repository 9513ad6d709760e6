// SwiftPM needs one source file per C target; the declaration is in include/CSwannFuzz.h.
#include "CSwannFuzz.h"
