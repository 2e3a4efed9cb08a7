// SPDX-License-Identifier: GPL-2.0
/* This module's copy of the rvirtio C helpers, and the netdev shim. */
#include "../../rust/helpers/helpers.c"
#include "../../rust/helpers/net.c"
