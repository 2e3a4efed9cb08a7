// SPDX-License-Identifier: GPL-2.0
/*
 * The `device` module parameter of every rvirtio module: virtio-mmio
 * devices for guests without ACPI or a device tree, in the syntax of the
 * kernel's virtio_mmio.device= (drivers/virtio/virtio_mmio.c):
 *
 *   <size>@<base>:<irq>[:<id>]
 *
 * Several devices may be given in one value, separated by commas or
 * spaces, and the parameter may be given several times; every value is
 * kept (space separated) and parsed in Rust at module init
 * (rust/virtio/mmio/cmdline.rs, rust/kvirtio/mmio/cmdline.rs). 7.2's
 * Rust module! has no string parameters, hence this C half. Included by
 * rust/helpers/helpers.c; read through rvirtio_mmio_device_param()
 * (rust/kext/ffi.rs).
 */
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <linux/sysfs.h>

static char rvirtio_mmio_devices[1024];

static int rvirtio_mmio_device_set(const char *val, const struct kernel_param *kp)
{
	size_t used = strnlen(rvirtio_mmio_devices, sizeof(rvirtio_mmio_devices));
	size_t len = strlen(val);
	size_t sep = used ? 1 : 0;

	if (used + sep + len + 1 > sizeof(rvirtio_mmio_devices))
		return -ENOSPC;
	if (sep)
		rvirtio_mmio_devices[used++] = ' ';
	memcpy(rvirtio_mmio_devices + used, val, len);
	rvirtio_mmio_devices[used + len] = '\0';
	return 0;
}

static int rvirtio_mmio_device_get(char *buffer, const struct kernel_param *kp)
{
	return sysfs_emit(buffer, "%s\n", rvirtio_mmio_devices);
}

static const struct kernel_param_ops rvirtio_mmio_device_ops = {
	.set = rvirtio_mmio_device_set,
	.get = rvirtio_mmio_device_get,
};

module_param_cb(device, &rvirtio_mmio_device_ops, NULL, 0444);
MODULE_PARM_DESC(device,
		 "virtio-mmio devices without ACPI/DT: <size>@<base>:<irq>[:<id>], several separated by commas or spaces; only those of this module's device type are created");

const char *rvirtio_mmio_device_param(void);
const char *rvirtio_mmio_device_param(void)
{
	return rvirtio_mmio_devices;
}
