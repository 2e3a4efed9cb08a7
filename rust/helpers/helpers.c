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
#include <linux/cc_platform.h>
#include <linux/compiler.h>
#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/scatterlist.h>
#include <linux/spinlock.h>
#include <linux/stddef.h>
#include <linux/virtio_anchor.h>
#include <asm/barrier.h>
#include <uapi/linux/virtio_ring.h>

#include "ida.c"

#define RVIRTIO_HELPERS_ABI 5

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

/*
 * DMA addressing (rust/virtio/dma.rs decides it from the negotiated
 * features; rust/kext/dma.rs is the Rust side). With dma_api the device
 * gets what the DMA API maps (an IOVA, a bounce buffer); without it (no
 * VIRTIO_F_ACCESS_PLATFORM) the guest physical address, bypassing the DMA
 * API, as the C core's vring_map_one_sg() and vring_alloc_queue() do.
 */

/*
 * Whether the guest restricts the host's access to its memory (a
 * confidential guest), as the C core's virtio_features_ok() asks through
 * virtio_check_mem_acc_cb: the architectures set it to
 * virtio_require_restricted_mem_acc for AMD SEV / Intel TDX guests and s390
 * protected virtualization. Xen's own callback needs a struct
 * virtio_device and is not consulted. Without CONFIG_VIRTIO_ANCHOR, the
 * confidential-computing attribute the x86 callback stands for.
 */
bool rvirtio_restricted_mem_access(void);
bool rvirtio_restricted_mem_access(void)
{
#ifdef CONFIG_VIRTIO_ANCHOR
	if (virtio_check_mem_acc_cb == virtio_require_restricted_mem_acc)
		return true;
#endif
	return cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT);
}

/* The physical address of linear-map memory (kmalloc, page allocator). */
u64 rvirtio_virt_to_phys(void *ptr);
u64 rvirtio_virt_to_phys(void *ptr)
{
	return virt_to_phys(ptr);
}

/*
 * Zeroed pages for device-shared memory addressed physically (rings
 * without the DMA API): PAGE_ALIGN(size) bytes, physically contiguous.
 */
void *rvirtio_alloc_pages_exact(size_t size);
void *rvirtio_alloc_pages_exact(size_t size)
{
	return alloc_pages_exact(PAGE_ALIGN(size), GFP_KERNEL | __GFP_ZERO);
}

void rvirtio_free_pages_exact(void *ptr, size_t size);
void rvirtio_free_pages_exact(void *ptr, size_t size)
{
	free_pages_exact(ptr, PAGE_ALIGN(size));
}

/*
 * The device address of size bytes of linear-map memory at ptr, in *addr.
 * Returns 0, or -ENOMEM when the DMA API cannot map it.
 */
int rvirtio_map_single(struct device *dev, bool dma_api, void *ptr, size_t size,
		       enum dma_data_direction dir, dma_addr_t *addr);
int rvirtio_map_single(struct device *dev, bool dma_api, void *ptr, size_t size,
		       enum dma_data_direction dir, dma_addr_t *addr)
{
	if (!dma_api) {
		*addr = virt_to_phys(ptr);
		return 0;
	}
	*addr = dma_map_single(dev, ptr, size, dir);
	return dma_mapping_error(dev, *addr) ? -ENOMEM : 0;
}

void rvirtio_unmap_single(struct device *dev, bool dma_api, dma_addr_t addr, size_t size,
			  enum dma_data_direction dir);
void rvirtio_unmap_single(struct device *dev, bool dma_api, dma_addr_t addr, size_t size,
			  enum dma_data_direction dir)
{
	if (dma_api)
		dma_unmap_single(dev, addr, size, dir);
}

/*
 * Gives the nents entries of sg their device addresses (sg_dma_address,
 * sg_dma_len). Returns the number of device segments (fewer than nents
 * when an IOMMU merged some, never longer than the device's
 * dma_get_max_seg_size()), or 0 when the DMA API cannot map them.
 */
int rvirtio_map_sg(struct device *dev, bool dma_api, struct scatterlist *sg, int nents,
		   enum dma_data_direction dir);
int rvirtio_map_sg(struct device *dev, bool dma_api, struct scatterlist *sg, int nents,
		   enum dma_data_direction dir)
{
	struct scatterlist *s;
	int i;

	if (dma_api)
		return dma_map_sg(dev, sg, nents, dir);
	for_each_sg(sg, s, nents, i) {
		sg_dma_address(s) = sg_phys(s);
		sg_dma_len(s) = s->length;
	}
	return nents;
}

void rvirtio_unmap_sg(struct device *dev, bool dma_api, struct scatterlist *sg, int nents,
		      enum dma_data_direction dir);
void rvirtio_unmap_sg(struct device *dev, bool dma_api, struct scatterlist *sg, int nents,
		      enum dma_data_direction dir)
{
	if (dma_api)
		dma_unmap_sg(dev, sg, nents, dir);
}

/* The DMA layer's largest mapping for dev (swiotlb: 256 KiB). */
size_t rvirtio_dma_max_mapping_size(struct device *dev);
size_t rvirtio_dma_max_mapping_size(struct device *dev)
{
	return dma_max_mapping_size(dev);
}

unsigned int rvirtio_dma_get_max_seg_size(struct device *dev);
unsigned int rvirtio_dma_get_max_seg_size(struct device *dev)
{
	return dma_get_max_seg_size(dev);
}

/*
 * The largest segment the DMA API may make for dev, also when an IOMMU
 * merges entries of a scatterlist. Only with dma_parms (PCI and platform
 * devices have them).
 */
int rvirtio_dma_set_max_seg_size(struct device *dev, unsigned int size);
int rvirtio_dma_set_max_seg_size(struct device *dev, unsigned int size)
{
	if (!dev->dma_parms)
		return -EINVAL;
	dma_set_max_seg_size(dev, size);
	return 0;
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
