// SwiftPM needs one source file per C target; everything lives in include/CSwannLinuxAIO.h.
#include "CSwannLinuxAIO.h"
