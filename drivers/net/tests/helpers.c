// SPDX-License-Identifier: GPL-2.0
/*
 * This module's copy of the rvirtio C helpers, and the netdev shim that
 * rust/kext/net/ declares (no interface is made).
 */
#include "../../../rust/helpers/helpers.c"
#include "../../../rust/helpers/net.c"
