// SPDX-License-Identifier: GPL-2.0
/*
 * This module's copy of the rvirtio C helpers, and the hvc, kmsg_dump and chardev
 * shims that rust/kext/{hvc,kmsg_dump,chardev}.rs declare (linked, never called:
 * nothing is registered).
 */
#include "../../../rust/helpers/helpers.c"
#include "../../../rust/helpers/hvc.c"
#include "../../../rust/helpers/kmsg_dump.c"
#define RVIRTIO_CHARDEV_CLASS "virtio-ports"
#include "../../../rust/helpers/chardev.c"
