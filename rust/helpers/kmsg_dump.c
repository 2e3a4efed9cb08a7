// SPDX-License-Identifier: GPL-2.0
/*
 * rvirtio kmsg dumper shim: a kmsg dumper (include/linux/kmsg_dump.h) whose
 * output goes to a Rust callback. On an oops or a panic (max_reason
 * KMSG_DUMP_OOPS) the shim copies the newest kernel messages that fit its
 * buffer, allocated at registration (nothing is allocated on the dump
 * path), and hands them to the callback. The callback runs in whatever
 * context oopsed or panicked (interrupts off, other CPUs stopped on a
 * panic, maybe NMI): it must not sleep or take a lock another CPU could
 * hold. Dumps do not nest: a dump that finds one in progress on another
 * CPU (two oopses at once) or on its own (an oops in the callback) is
 * dropped.
 *
 * kmsg_dump_unregister() waits for an RCU grace period, and the dump runs
 * under rcu_read_lock(): no callback runs on the private pointer after
 * rvirtio_kmsg_dump_remove() returns.
 *
 * Included by the helpers.c of modules that dump kernel messages; the Rust
 * side is rust/kext/kmsg_dump.rs.
 */
#include <linux/atomic.h>
#include <linux/kmsg_dump.h>
#include <linux/slab.h>
#include <linux/stddef.h>

/* Bump on any change of the functions or structures below (kext::kmsg_dump::SHIM_ABI). */
#define RVIRTIO_KMSG_DUMP_SHIM_ABI 1

/* The reasons handed to the callback (kext::kmsg_dump::Reason). */
#define RVIRTIO_KMSG_DUMP_PANIC 0
#define RVIRTIO_KMSG_DUMP_OOPS 1

unsigned int rvirtio_kmsg_dump_abi(void);
unsigned int rvirtio_kmsg_dump_abi(void)
{
	return RVIRTIO_KMSG_DUMP_SHIM_ABI;
}

struct rvirtio_kmsg_dump {
	struct kmsg_dumper dumper;
	/* The newest messages, len bytes at buf; in atomic context. */
	void (*dump)(void *priv, u32 reason, const u8 *buf, size_t len);
	void *priv;
	atomic_t busy;
	size_t size;
	u8 buf[];
};

static void rvirtio_kmsg_dump_cb(struct kmsg_dumper *dumper, struct kmsg_dump_detail *detail)
{
	struct rvirtio_kmsg_dump *d = container_of(dumper, struct rvirtio_kmsg_dump, dumper);
	struct kmsg_dump_iter iter;
	size_t len = 0;
	u32 reason;

	switch (detail->reason) {
	case KMSG_DUMP_PANIC:
		reason = RVIRTIO_KMSG_DUMP_PANIC;
		break;
	case KMSG_DUMP_OOPS:
		reason = RVIRTIO_KMSG_DUMP_OOPS;
		break;
	default:
		return;
	}
	if (atomic_cmpxchg(&d->busy, 0, 1) != 0)
		return;
	kmsg_dump_rewind(&iter);
	/* The newest messages that fit, without syslog prefixes. */
	if (kmsg_dump_get_buffer(&iter, false, d->buf, d->size, &len) && len > 0)
		d->dump(d->priv, reason, d->buf, min(len, d->size));
	atomic_set(&d->busy, 0);
}

/*
 * Registers a dumper of oopses and panics with a buffer of size bytes;
 * dump(priv, ...) runs on each from now on. Sleeps.
 */
int rvirtio_kmsg_dump_add(void (*dump)(void *priv, u32 reason, const u8 *buf, size_t len),
			  void *priv, size_t size, struct rvirtio_kmsg_dump **out);
int rvirtio_kmsg_dump_add(void (*dump)(void *priv, u32 reason, const u8 *buf, size_t len),
			  void *priv, size_t size, struct rvirtio_kmsg_dump **out)
{
	struct rvirtio_kmsg_dump *d;
	int rc;

	if (!dump || size == 0)
		return -EINVAL;
	d = kzalloc(struct_size(d, buf, size), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->dump = dump;
	d->priv = priv;
	d->size = size;
	atomic_set(&d->busy, 0);
	d->dumper.dump = rvirtio_kmsg_dump_cb;
	d->dumper.max_reason = KMSG_DUMP_OOPS;
	rc = kmsg_dump_register(&d->dumper);
	if (rc) {
		kfree(d);
		return rc;
	}
	*out = d;
	return 0;
}

/* Unregisters the dumper: no callback runs after this returns. Sleeps. */
void rvirtio_kmsg_dump_remove(struct rvirtio_kmsg_dump *d);
void rvirtio_kmsg_dump_remove(struct rvirtio_kmsg_dump *d)
{
	/* Waits for an RCU grace period: a dump in progress has ended. */
	kmsg_dump_unregister(&d->dumper);
	kfree(d);
}

/* The values mirrored by kext::kmsg_dump (its CField). */
enum rvirtio_kmsg_dump_c_field {
	RVIRTIO_KMSG_DUMP_F_PANIC,
	RVIRTIO_KMSG_DUMP_F_OOPS,
};

long rvirtio_kmsg_dump_c_layout(u32 id);
long rvirtio_kmsg_dump_c_layout(u32 id)
{
	switch (id) {
	case RVIRTIO_KMSG_DUMP_F_PANIC:
		return RVIRTIO_KMSG_DUMP_PANIC;
	case RVIRTIO_KMSG_DUMP_F_OOPS:
		return RVIRTIO_KMSG_DUMP_OOPS;
	default:
		return -1;
	}
}
