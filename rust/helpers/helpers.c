// SPDX-License-Identifier: GPL-2.0
/*
 * rvirtio C helpers: the kernel APIs that exist only as C macros or static
 * inlines, given a symbol Rust can call. Every rvirtio module links its own
 * copy (a module's helpers.c #includes this file), because out-of-tree
 * modules cannot share Rust or C symbols without exporting them.
 *
 * The Rust declarations are in rust/kext/ffi.rs; keep the two in step and
 * bump RVIRTIO_HELPERS_ABI on any change.
 */
#include <linux/compiler.h>
#include <linux/dma-mapping.h>
#include <linux/spinlock.h>
#include <linux/stddef.h>
#include <asm/barrier.h>
#include <uapi/linux/virtio_ring.h>

#include "ida.c"

#define RVIRTIO_HELPERS_ABI 4

unsigned int rvirtio_helpers_abi(void);
unsigned int rvirtio_helpers_abi(void)
{
	return RVIRTIO_HELPERS_ABI;
}

/*
 * Barriers between the driver and a device that runs concurrently on another
 * CPU (the hypervisor). virt_*() are the real __smp_*() barriers even on a
 * uniprocessor kernel, where smp_*() would be only compiler barriers.
 */
void rvirtio_virt_mb(void);
void rvirtio_virt_mb(void)
{
	virt_mb();
}

void rvirtio_virt_rmb(void);
void rvirtio_virt_rmb(void)
{
	virt_rmb();
}

void rvirtio_virt_wmb(void);
void rvirtio_virt_wmb(void)
{
	virt_wmb();
}

/*
 * Layout of C structures as the C compiler sees them, so KUnit suites can
 * check that a Rust mirror of a kernel or uapi structure matches it. The ids
 * are the discriminants of `kext::c_layout::CField` in rust/kext/c_layout.rs.
 */
enum rvirtio_c_field {
	RVIRTIO_VRING_DESC,
	RVIRTIO_VRING_DESC_ADDR,
	RVIRTIO_VRING_DESC_LEN,
	RVIRTIO_VRING_DESC_FLAGS,
	RVIRTIO_VRING_DESC_NEXT,
	RVIRTIO_VRING_AVAIL,
	RVIRTIO_VRING_AVAIL_IDX,
	RVIRTIO_VRING_USED_ELEM,
	RVIRTIO_VRING_USED_ELEM_LEN,
	RVIRTIO_VRING_USED,
	RVIRTIO_VRING_USED_IDX,
	RVIRTIO_VRING_PACKED_DESC,
	RVIRTIO_VRING_PACKED_DESC_ID,
	RVIRTIO_VRING_PACKED_DESC_FLAGS,
	RVIRTIO_VRING_PACKED_DESC_EVENT,
};

/*
 * Returns the size of a structure id, the offset of a field id, or -1 for an
 * unknown id.
 */
long rvirtio_c_layout(unsigned int id);
long rvirtio_c_layout(unsigned int id)
{
	switch (id) {
	case RVIRTIO_VRING_DESC: return sizeof(struct vring_desc);
	case RVIRTIO_VRING_DESC_ADDR: return offsetof(struct vring_desc, addr);
	case RVIRTIO_VRING_DESC_LEN: return offsetof(struct vring_desc, len);
	case RVIRTIO_VRING_DESC_FLAGS: return offsetof(struct vring_desc, flags);
	case RVIRTIO_VRING_DESC_NEXT: return offsetof(struct vring_desc, next);
	case RVIRTIO_VRING_AVAIL: return sizeof(struct vring_avail);
	case RVIRTIO_VRING_AVAIL_IDX: return offsetof(struct vring_avail, idx);
	case RVIRTIO_VRING_USED_ELEM: return sizeof(struct vring_used_elem);
	case RVIRTIO_VRING_USED_ELEM_LEN: return offsetof(struct vring_used_elem, len);
	case RVIRTIO_VRING_USED: return sizeof(struct vring_used);
	case RVIRTIO_VRING_USED_IDX: return offsetof(struct vring_used, idx);
	case RVIRTIO_VRING_PACKED_DESC: return sizeof(struct vring_packed_desc);
	case RVIRTIO_VRING_PACKED_DESC_ID: return offsetof(struct vring_packed_desc, id);
	case RVIRTIO_VRING_PACKED_DESC_FLAGS: return offsetof(struct vring_packed_desc, flags);
	case RVIRTIO_VRING_PACKED_DESC_EVENT: return sizeof(struct vring_packed_desc_event);
	}
	return -1;
}

/* DMA: the parts of the DMA API that are static inlines or macros. */

int rvirtio_dma_mapping_error(struct device *dev, dma_addr_t addr);
int rvirtio_dma_mapping_error(struct device *dev, dma_addr_t addr)
{
	return dma_mapping_error(dev, addr);
}

dma_addr_t rvirtio_dma_map_single(struct device *dev, void *ptr, size_t size,
				  enum dma_data_direction dir);
dma_addr_t rvirtio_dma_map_single(struct device *dev, void *ptr, size_t size,
				  enum dma_data_direction dir)
{
	return dma_map_single(dev, ptr, size, dir);
}

void rvirtio_dma_unmap_single(struct device *dev, dma_addr_t addr, size_t size,
			      enum dma_data_direction dir);
void rvirtio_dma_unmap_single(struct device *dev, dma_addr_t addr, size_t size,
			      enum dma_data_direction dir)
{
	dma_unmap_single(dev, addr, size, dir);
}

/*
 * Gives a device without a bus DMA mask (a faux device for KUnit) a
 * coherent mask of @bits, so it can allocate coherent memory.
 */
int rvirtio_dma_coerce_mask(struct device *dev, unsigned int bits);
int rvirtio_dma_coerce_mask(struct device *dev, unsigned int bits)
{
	return dma_coerce_mask_and_coherent(dev, DMA_BIT_MASK(bits));
}

/* Spinlocks that disable local interrupts, for state shared with a hardirq handler. */

unsigned long rvirtio_spin_lock_irqsave(spinlock_t *lock);
unsigned long rvirtio_spin_lock_irqsave(spinlock_t *lock)
{
	unsigned long flags;

	spin_lock_irqsave(lock, flags);
	return flags;
}

void rvirtio_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags);
void rvirtio_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags)
{
	spin_unlock_irqrestore(lock, flags);
}

int rvirtio_spin_trylock_irqsave(spinlock_t *lock, unsigned long *flags);
int rvirtio_spin_trylock_irqsave(spinlock_t *lock, unsigned long *flags)
{
	return spin_trylock_irqsave(lock, *flags);
}

/* The `device` module parameter (virtio-mmio devices without ACPI/DT). */
#include "mmio.c"
