// SPDX-License-Identifier: GPL-2.0
/*
 * The guest API of the kernel's tools/virtio/ringtest (main.h) implemented
 * with the kernel's own split ring, drivers/virtio/virtio_ring.c, built in
 * user space through tools/virtio's shim headers (the `run` script compiles
 * both from the kernel source at run time; nothing of the kernel is copied
 * here). It plays the part src/lib.rs plays for the rvirtio ring: linked
 * with loop.c (or ringtest's main.c) and virtio_ring_0_9.c with its guest
 * functions renamed, so the device side is the same C host code for the
 * three rings and only the driver side differs.
 *
 * The queue is what a virtio driver gets from the kernel: made by
 * vring_create_virtqueue() (split, 256 entries, 4 KiB alignment as
 * ringtest's vring_init(.., 0x1000), weak barriers), VIRTIO_F_VERSION_1 and
 * VIRTIO_RING_F_EVENT_IDX negotiated, no indirect descriptors (as the rvirtio
 * library; a one-element buffer never goes indirect anyway). The token is
 * the pair (datap, buf) as for the rvirtio library: datap is the data,
 * buf the context (virtqueue_add_inbuf_ctx(), as virtio-net uses it).
 *
 * KRING_DMA=1 in the environment also negotiates VIRTIO_F_ACCESS_PLATFORM,
 * so the ring maps every buffer through the DMA API (vring_use_map_api()):
 * the ring's own wrappers run, the DMA calls themselves are the shim's
 * identity macros (tools/virtio/linux/dma-mapping.h).
 */
#define _GNU_SOURCE
#include <linux/kernel.h>
#include <linux/virtio.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_config.h>
#include <linux/scatterlist.h>
#include <stdlib.h>

/* The harness's, see tools/virtio/linux/kernel.h. */
void *__kmalloc_fake, *__kfree_ignore_start, *__kfree_ignore_end;

/* ringtest's guest API (tools/virtio/ringtest/main.h). */
void alloc_ring(void);
int add_inbuf(unsigned int len, void *buf, void *datap);
void *get_buf(unsigned int *lenp, void **bufp);
bool used_empty(void);
void disable_call(void);
bool enable_call(void);
void kick_available(void);

/* From virtio_ring_0_9.c (its alloc_ring, renamed) and the harness. */
void c_alloc_ring(void);
extern struct vring ring;
void kick(void);

static struct virtio_device vdev;
static struct virtqueue *vq;
/* Buffers reaped: the driver's count of used entries, for used_empty(). */
static unsigned short reaped;

/*
 * The transport's notification: kick_available() calls kick() itself
 * after virtqueue_kick_prepare(); the ring calls this only when it kicks
 * on its own (after 65535 adds without a kick).
 */
static bool notify(struct virtqueue *q)
{
	kick();
	return true;
}

void alloc_ring(void)
{
	c_alloc_ring();
	INIT_LIST_HEAD(&vdev.vqs);
	spin_lock_init(&vdev.vqs_list_lock);
	__virtio_set_bit(&vdev, VIRTIO_F_VERSION_1);
	__virtio_set_bit(&vdev, VIRTIO_RING_F_EVENT_IDX);
	if (getenv("KRING_DMA") && atoi(getenv("KRING_DMA")))
		__virtio_set_bit(&vdev, VIRTIO_F_ACCESS_PLATFORM);
	vq = vring_create_virtqueue(0, ring.num, 0x1000, &vdev, true, false,
				    true, notify, NULL, "bench");
	if (!vq) {
		fprintf(stderr, "kernel ring: vring_create_virtqueue failed\n");
		exit(3);
	}
	/* Bus address == CPU address in the harness (virt_to_phys()). */
	ring.desc = (void *)(unsigned long)virtqueue_get_desc_addr(vq);
	ring.avail = (void *)(unsigned long)virtqueue_get_avail_addr(vq);
	ring.used = (void *)(unsigned long)virtqueue_get_used_addr(vq);
	/* As the rvirtio library: start with used buffer notifications off. */
	virtqueue_disable_cb(vq);
}

int add_inbuf(unsigned int len, void *buf, void *datap)
{
	struct scatterlist sg;

	/*
	 * sg_init_one() with the kernel's constant 4 KiB pages (the shim's
	 * virt_to_page() and offset_in_page() call getpagesize(), which a
	 * kernel build does not).
	 */
	sg_init_table(&sg, 1);
	sg_set_page(&sg, (struct page *)((unsigned long)buf & ~4095UL), len,
		    (unsigned long)buf & 4095);
	return virtqueue_add_inbuf_ctx(vq, &sg, 1, datap, buf, GFP_ATOMIC);
}

void *get_buf(unsigned int *lenp, void **bufp)
{
	void *datap = virtqueue_get_buf_ctx(vq, lenp, bufp);

	if (datap)
		reaped++;
	return datap;
}

bool used_empty(void)
{
	return !virtqueue_poll(vq, reaped);
}

void disable_call(void)
{
	virtqueue_disable_cb(vq);
}

bool enable_call(void)
{
	return virtqueue_enable_cb(vq);
}

void kick_available(void)
{
	if (virtqueue_kick_prepare(vq))
		kick();
}
