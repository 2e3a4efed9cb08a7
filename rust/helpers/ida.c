// SPDX-License-Identifier: GPL-2.0
/*
 * The module's IDA, for rust/kext/ida.rs: DEFINE_IDA is a static initializer
 * (a spinlock and xarray flags) that Rust cannot write, and the 7.2 kernel
 * crate has no IDA. Each module that includes this file gets its own.
 * ida_alloc_range() and ida_free() are exported functions, called from Rust
 * directly. An IDA frees its memory when its last id is freed, so a module
 * whose ids are all freed by its exit needs no ida_destroy().
 */
#include <linux/idr.h>

static DEFINE_IDA(rvirtio_ida);

struct ida *rvirtio_module_ida(void);
struct ida *rvirtio_module_ida(void)
{
	return &rvirtio_ida;
}
