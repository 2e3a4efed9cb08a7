// SPDX-License-Identifier: GPL-2.0
/*
 * rvirtio hwrng shim: owns a struct hwrng (its header is not reachable from
 * the kernel crate's bindings) and forwards ->read() to a Rust callback.
 * Included by the helpers.c of modules that register an hwrng; the Rust
 * side is rust/kext/hwrng.rs.
 */
#include <linux/hw_random.h>
#include <linux/slab.h>
#include <linux/string.h>

struct rvirtio_hwrng {
	struct hwrng rng;
	int (*read)(void *priv, void *buf, size_t max, bool wait);
	void *priv;
};

static int rvirtio_hwrng_read(struct hwrng *rng, void *data, size_t max, bool wait)
{
	struct rvirtio_hwrng *r = container_of(rng, struct rvirtio_hwrng, rng);

	return r->read(r->priv, data, max, wait);
}

struct rvirtio_hwrng *rvirtio_hwrng_alloc(const char *name, unsigned short quality,
					  int (*read)(void *, void *, size_t, bool),
					  void *priv);
struct rvirtio_hwrng *rvirtio_hwrng_alloc(const char *name, unsigned short quality,
					  int (*read)(void *, void *, size_t, bool),
					  void *priv)
{
	struct rvirtio_hwrng *r = kzalloc(sizeof(*r), GFP_KERNEL);

	if (!r)
		return NULL;
	r->rng.name = kstrdup(name, GFP_KERNEL);
	if (!r->rng.name) {
		kfree(r);
		return NULL;
	}
	r->rng.read = rvirtio_hwrng_read;
	r->rng.quality = quality;
	r->read = read;
	r->priv = priv;
	return r;
}

int rvirtio_hwrng_register(struct rvirtio_hwrng *r);
int rvirtio_hwrng_register(struct rvirtio_hwrng *r)
{
	return hwrng_register(&r->rng);
}

void rvirtio_hwrng_unregister(struct rvirtio_hwrng *r);
void rvirtio_hwrng_unregister(struct rvirtio_hwrng *r)
{
	hwrng_unregister(&r->rng);
}

void rvirtio_hwrng_free(struct rvirtio_hwrng *r);
void rvirtio_hwrng_free(struct rvirtio_hwrng *r)
{
	kfree(r->rng.name);
	kfree(r);
}
