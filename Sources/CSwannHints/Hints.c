// SwiftPM needs one source file per C target; everything lives in include/CSwannHints.h.
#include "CSwannHints.h"
