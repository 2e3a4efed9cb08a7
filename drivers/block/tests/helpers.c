// SPDX-License-Identifier: GPL-2.0
/*
 * This module's copy of the rvirtio C helpers, and the blk-mq shim that
 * rust/kext/blk/ declares (linked, never called: nothing is registered).
 */
#include "../../../rust/helpers/helpers.c"
#include "../../../rust/helpers/blk.c"
