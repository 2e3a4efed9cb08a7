// SPDX-License-Identifier: GPL-2.0
/* This module's copy of the rvirtio C helpers, and the hvc and chardev shims. */
#include "../../rust/helpers/helpers.c"
#include "../../rust/helpers/hvc.c"
#define RVIRTIO_CHARDEV_CLASS "virtio-ports"
#include "../../rust/helpers/chardev.c"
