// SPDX-License-Identifier: GPL-2.0
/*
 * rvirtio blk-mq shim: the block-layer objects the 7.2 kernel crate cannot
 * express (a tag set with a per-request PDU, a gendisk with full queue
 * limits, a parent device and a module owner, a timeout handler), and the
 * static-inline request helpers. The virtio logic stays in Rust: the shim
 * calls back into it through struct rvirtio_blk_cb, and the virtio-blk wire
 * format (header, status byte, discard ranges) is Rust's
 * (rust/virtio/blk/wire.rs): the shim only maps the bytes of each request's
 * wire area where struct rvirtio_blk_wire says. Included by the helpers.c of
 * the block driver; the Rust side is rust/kext/blk/, which checks every
 * structure mirrored here with rvirtio_blk_c_layout().
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/dma-mapping.h>
#include <linux/hdreg.h>
#include <linux/moduleparam.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

/* Bump on any change of the functions or structures below (kext::blk::SHIM_ABI). */
#define RVIRTIO_BLK_SHIM_ABI 6

unsigned int rvirtio_blk_abi(void);
unsigned int rvirtio_blk_abi(void)
{
	return RVIRTIO_BLK_SHIM_ABI;
}

/*
 * The disk name prefix: the C driver's "vd" by default, another one (e.g.
 * "rvd") to run beside the C driver. module! of Linux 7.2 has no string
 * parameters, so the shim defines it for the module that includes it.
 */
static char *prefix = "vd";
module_param(prefix, charp, 0444);
MODULE_PARM_DESC(prefix, "Disk name prefix (default vd, as virtio_blk: vda, vdb, ...)");

const char *rvirtio_blk_name_prefix(void);
const char *rvirtio_blk_name_prefix(void)
{
	return prefix;
}

struct rvirtio_blk;

struct rvirtio_blk_geo {
	u16 cylinders;
	u8 heads;
	u8 sectors;
};

struct rvirtio_blk_cb {
	/* Returns a blk_status_t. */
	u8 (*queue_rq)(void *drv, struct rvirtio_blk *b, unsigned int hctx, struct request *rq,
		       bool last);
	void (*commit_rqs)(void *drv, unsigned int hctx);
	/*
	 * A completed request, already unmapped (rvirtio_rq_unmap): used_len is
	 * what the device said it wrote, in_len what it could write.
	 */
	void (*complete)(void *drv, struct rvirtio_blk *b, struct request *rq, u32 used_len,
			 u32 in_len);
	/* Returns an enum blk_eh_timer_return. */
	unsigned int (*timeout)(void *drv, struct rvirtio_blk *b, struct request *rq);
	/* sysfs "serial": writes at most len bytes; returns the length or -errno. */
	int (*serial)(void *drv, struct rvirtio_blk *b, char *buf, u32 len);
	/* sysfs "cache_type": 1 write back, 0 write through, or -errno. */
	int (*write_cache)(void *drv);
	/* Switches the cache mode; returns the new mode (as above) or -errno. */
	int (*set_write_cache)(void *drv, bool write_back);
	/* Whether set_write_cache can work (the attribute is writable). */
	bool (*write_cache_switchable)(void *drv);
	/* HDIO_GETGEO: fills *geo for a disk of capacity sectors, or -errno. */
	int (*geometry)(void *drv, u64 capacity, struct rvirtio_blk_geo *geo);
	/*
	 * Queues the requests of rqs, all of hardware queue hctx (blk-mq's
	 * queue_rqs); puts those it does not queue on back (through
	 * rvirtio_rq_give_back). What it leaves on rqs goes back too.
	 */
	void (*queue_rqs)(void *drv, struct rvirtio_blk *b, unsigned int hctx,
			  struct rq_list *rqs, struct rq_list *back);
};

/*
 * Where the parts of a request's wire area are (Rust's RequestWire::LAYOUT):
 * the area is the first size bytes of the per-request data; the header is
 * its first header_len bytes, the status byte is at status_offset (mapped
 * with the header: one mapping of status_offset + 1 bytes), the
 * driver-built payload (discard ranges) at payload_offset.
 */
struct rvirtio_blk_wire {
	u32 size;
	u32 align;
	u32 header_len;
	u32 status_offset;
	u32 payload_offset;
	u32 payload_max;
};

struct rvirtio_blk_limits {
	u32 logical_block_size;
	u32 physical_block_size;
	u32 alignment_offset;
	u32 io_min;
	u32 io_opt;
	u32 max_hw_sectors;
	u32 max_segments;
	u32 max_segment_size;
	u32 dma_alignment;
	u32 max_discard_sectors;
	u32 max_discard_segments;
	u32 discard_granularity;
	u32 max_write_zeroes_sectors;
	bool write_cache;
	bool fua;
};

/*
 * Per-request data: the wire area (Rust's), then this: the mappings and
 * lengths, and the scatterlist.
 */
struct rvirtio_blk_pdu {
	u8 hdr_mapped;
	u8 data_dir;
	u32 nents;
	dma_addr_t hdr_dma;
	dma_addr_t payload_dma;
	u32 payload_len;
	/* Device-writable bytes mapped, and what the device said it wrote. */
	u32 in_len;
	u32 used_len;
	/* Timeouts since the request was started (rvirtio_rq_timeouts). */
	u32 timeouts;
	struct scatterlist sg[];
};

/*
 * Lifetime: this structure is the disk's private_data and lives until the
 * gendisk's last reference goes (.free_disk), since an open block device
 * can still call ->getgeo after the disk was deleted. The driver's data
 * (drv) does not: it goes when rvirtio_blk_destroy() returns. The blk-mq
 * callbacks end with del_gendisk() (it waits for every request and stops
 * the timeout work, and the queue stays frozen); sysfs callbacks end with
 * it too (device_del() drains them); the block_device_operations do not.
 * So every callback from user space reaches drv only through
 * rvirtio_blk_enter(), under lock, and destroy clears drv under lock:
 * after it the callbacks fail with -ENXIO (ioctl) or -ENODEV (sysfs), as
 * the C driver's vdev_mutex makes them.
 */
struct rvirtio_blk {
	struct blk_mq_tag_set tag_set;
	struct gendisk *disk;
	struct device *dma_dev;
	const struct rvirtio_blk_cb *cb;
	/* Serialises drv for the callbacks from user space with destroy. */
	struct mutex lock;
	/* The driver's data; NULL once destroy cleared it (under lock). */
	void *drv;
	u32 max_segments;
	struct rvirtio_blk_wire wire;
	/* Offset of struct rvirtio_blk_pdu in the per-request data. */
	u32 pdu_offset;
	/* MSI-X vector of hardware queue 0 (managed affinity), or -1. */
	int irq_offset;
	/*
	 * Map requests with the DMA API (VIRTIO_F_ACCESS_PLATFORM), or give
	 * the device physical addresses (rust/virtio/dma.rs decides).
	 */
	bool dma_api;
};

/*
 * The driver's data for a callback from user space, with b->lock held
 * until rvirtio_blk_exit(); NULL (and not locked) once the driver is gone.
 */
static void *rvirtio_blk_enter(struct rvirtio_blk *b)
{
	mutex_lock(&b->lock);
	if (!b->drv) {
		mutex_unlock(&b->lock);
		return NULL;
	}
	return b->drv;
}

static void rvirtio_blk_exit(struct rvirtio_blk *b)
{
	mutex_unlock(&b->lock);
}

/* The shim's part of a request's per-request data, after the wire area. */
static struct rvirtio_blk_pdu *rvirtio_blk_pdu(struct rvirtio_blk *b, struct request *rq)
{
	return blk_mq_rq_to_pdu(rq) + b->pdu_offset;
}

static blk_status_t rvirtio_blk_queue_rq(struct blk_mq_hw_ctx *hctx,
					 const struct blk_mq_queue_data *bd)
{
	struct rvirtio_blk *b = hctx->queue->queuedata;

	return (__force blk_status_t)b->cb->queue_rq(b->drv, b, hctx->queue_num, bd->rq, bd->last);
}

static void rvirtio_blk_commit_rqs(struct blk_mq_hw_ctx *hctx)
{
	struct rvirtio_blk *b = hctx->queue->queuedata;

	b->cb->commit_rqs(b->drv, hctx->queue_num);
}

/*
 * One run of requests of one hardware queue, for the driver's queue_rqs;
 * what it does not take joins back.
 */
static void rvirtio_blk_queue_batch(struct blk_mq_hw_ctx *hctx, struct rq_list *batch,
				    struct rq_list *back)
{
	struct rvirtio_blk *b = hctx->queue->queuedata;
	struct request *rq;

	b->cb->queue_rqs(b->drv, b, hctx->queue_num, batch, back);
	while ((rq = rq_list_pop(batch)))
		rq_list_add_tail(back, rq);
}

/*
 * blk-mq's queue_rqs (a plugged list, e.g. an io_uring submission of
 * several requests): as the C driver's virtio_queue_rqs, each run of
 * requests of one hardware queue goes to the driver at once, which adds
 * them under one hold of the queue's lock and notifies the device once.
 * The requests it gives back stay on *rqlist, and blk-mq issues them one by
 * one through queue_rq.
 */
static void rvirtio_blk_queue_rqs(struct rq_list *rqlist)
{
	struct rq_list batch = {}, back = {};
	struct blk_mq_hw_ctx *hctx = NULL;
	struct request *rq;

	while ((rq = rq_list_pop(rqlist))) {
		if (hctx && hctx != rq->mq_hctx)
			rvirtio_blk_queue_batch(hctx, &batch, &back);
		hctx = rq->mq_hctx;
		rq_list_add_tail(&batch, rq);
	}
	if (hctx)
		rvirtio_blk_queue_batch(hctx, &batch, &back);
	*rqlist = back;
}

/*
 * Unmaps what rvirtio_rq_map mapped. Nothing to unmap: physical addresses
 * (no ACCESS_PLATFORM), or the DMA layer says unmapping does nothing for
 * this device (direct mapping, coherent, no bounce buffer used since it was
 * set up; asked after this request's mappings, as dma_need_unmap() wants).
 * Never the latter with CONFIG_DMA_API_DEBUG, which checks every unmap, nor
 * behind an IOMMU. Inlined into the completion: the DMA API's part is out
 * of line.
 */
static void rvirtio_pdu_dma_unmap(struct rvirtio_blk *b, struct rvirtio_blk_pdu *p)
{
	struct device *dev = b->dma_dev;

	if (p->nents)
		rvirtio_unmap_sg(dev, b->dma_api, p->sg, p->nents, p->data_dir);
	if (p->hdr_mapped)
		rvirtio_unmap_single(dev, b->dma_api, p->hdr_dma, b->wire.status_offset + 1,
				     DMA_BIDIRECTIONAL);
	if (p->payload_len)
		rvirtio_unmap_single(dev, b->dma_api, p->payload_dma, p->payload_len,
				     DMA_TO_DEVICE);
}

static __always_inline void rvirtio_pdu_unmap(struct rvirtio_blk *b, struct rvirtio_blk_pdu *p)
{
	if (b->dma_api && dma_need_unmap(b->dma_dev))
		rvirtio_pdu_dma_unmap(b, p);
	p->nents = 0;
	p->hdr_mapped = 0;
	p->payload_len = 0;
}

/*
 * Unmaps what rvirtio_rq_map mapped, and gives the bytes the device said it
 * wrote and could write (data and status). The driver reads the status byte
 * in the wire area after this.
 */
void rvirtio_rq_unmap(struct rvirtio_blk *b, struct request *rq, u32 *used_len, u32 *in_len);
void rvirtio_rq_unmap(struct rvirtio_blk *b, struct request *rq, u32 *used_len, u32 *in_len)
{
	struct rvirtio_blk_pdu *p = rvirtio_blk_pdu(b, rq);

	*used_len = p->used_len;
	*in_len = p->in_len;
	rvirtio_pdu_unmap(b, p);
}

/* Unmapped here, so the driver gets the answer in the one call. */
static void rvirtio_blk_complete_rq(struct request *rq)
{
	struct rvirtio_blk *b = rq->q->queuedata;
	struct rvirtio_blk_pdu *p = rvirtio_blk_pdu(b, rq);

	rvirtio_pdu_unmap(b, p);
	b->cb->complete(b->drv, b, rq, p->used_len, p->in_len);
}

static enum blk_eh_timer_return rvirtio_blk_timeout(struct request *rq)
{
	struct rvirtio_blk *b = rq->q->queuedata;
	struct rvirtio_blk_pdu *p = rvirtio_blk_pdu(b, rq);

	/* Counted for the driver's bound on re-arming (saturating). */
	if (p->timeouts != U32_MAX)
		p->timeouts++;
	return b->cb->timeout(b->drv, b, rq);
}

/*
 * Like the C driver: each CPU submits to the hardware queue whose interrupt
 * is affine to it, so completions run where the request was issued (no IPI,
 * no contention on the queue with the other CPU's interrupt).
 */
static void rvirtio_blk_map_queues(struct blk_mq_tag_set *set)
{
	struct rvirtio_blk *b = set->driver_data;
	struct blk_mq_queue_map *map = &set->map[HCTX_TYPE_DEFAULT];

	if (b->irq_offset >= 0)
		blk_mq_map_hw_queues(map, b->dma_dev, b->irq_offset);
	else
		blk_mq_map_queues(map);
}

static const struct blk_mq_ops rvirtio_blk_mq_ops = {
	.queue_rq = rvirtio_blk_queue_rq,
	.queue_rqs = rvirtio_blk_queue_rqs,
	.commit_rqs = rvirtio_blk_commit_rqs,
	.map_queues = rvirtio_blk_map_queues,
	.complete = rvirtio_blk_complete_rq,
	.timeout = rvirtio_blk_timeout,
};

/* Reachable through an open block device after the disk was deleted. */
static int rvirtio_blk_getgeo(struct gendisk *disk, struct hd_geometry *geo)
{
	struct rvirtio_blk *b = disk->private_data;
	struct rvirtio_blk_geo g = {};
	void *drv;
	int err;

	drv = rvirtio_blk_enter(b);
	if (!drv)
		return -ENXIO;
	err = b->cb->geometry(drv, get_capacity(disk), &g);
	rvirtio_blk_exit(b);
	if (err)
		return err;
	geo->heads = g.heads;
	geo->sectors = g.sectors;
	geo->cylinders = g.cylinders;
	return 0;
}

/* The last reference to the disk is gone: so is every caller. */
static void rvirtio_blk_free_disk(struct gendisk *disk)
{
	struct rvirtio_blk *b = disk->private_data;

	mutex_destroy(&b->lock);
	kfree(b);
}

/* .owner pins this module while the disk is open. */
static const struct block_device_operations rvirtio_blk_fops = {
	.owner = THIS_MODULE,
	.getgeo = rvirtio_blk_getgeo,
	.free_disk = rvirtio_blk_free_disk,
};

struct rvirtio_blk *rvirtio_blk_create(struct device *dma_dev, unsigned int nr_queues,
				       unsigned int depth, unsigned int timeout_ms,
				       const struct rvirtio_blk_limits *l,
				       const struct rvirtio_blk_wire *w,
				       const struct rvirtio_blk_cb *cb, void *drv, int irq_offset);
struct rvirtio_blk *rvirtio_blk_create(struct device *dma_dev, unsigned int nr_queues,
				       unsigned int depth, unsigned int timeout_ms,
				       const struct rvirtio_blk_limits *l,
				       const struct rvirtio_blk_wire *w,
				       const struct rvirtio_blk_cb *cb, void *drv, int irq_offset)
{
	struct queue_limits lim = {
		.logical_block_size = l->logical_block_size,
		.physical_block_size = l->physical_block_size,
		.alignment_offset = l->alignment_offset,
		.io_min = l->io_min,
		.io_opt = l->io_opt,
		.max_hw_sectors = l->max_hw_sectors,
		.max_segments = l->max_segments,
		.max_segment_size = l->max_segment_size,
		.dma_alignment = l->dma_alignment,
		.max_hw_discard_sectors = l->max_discard_sectors,
		.max_discard_segments = l->max_discard_segments,
		.discard_granularity = l->discard_granularity,
		.max_write_zeroes_sectors = l->max_write_zeroes_sectors,
	};
	struct rvirtio_blk *b;
	struct gendisk *disk;
	int err;

	/*
	 * The wire area starts the per-request data (aligned as struct request
	 * is); the header, the status byte and the payload lie inside it.
	 */
	if (!w->size || w->size > PAGE_SIZE || w->align > __alignof__(struct request) ||
	    w->header_len > w->status_offset || w->status_offset >= w->size ||
	    w->payload_offset > w->size || w->payload_max > w->size - w->payload_offset)
		return ERR_PTR(-EINVAL);
	if (l->write_cache)
		lim.features |= BLK_FEAT_WRITE_CACHE;
	if (l->fua)
		lim.features |= BLK_FEAT_FUA;

	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return ERR_PTR(-ENOMEM);
	b->dma_dev = dma_dev;
	b->cb = cb;
	mutex_init(&b->lock);
	b->drv = drv;
	b->max_segments = l->max_segments;
	b->wire = *w;
	b->pdu_offset = ALIGN(w->size, __alignof__(struct rvirtio_blk_pdu));
	b->irq_offset = irq_offset;

	b->tag_set.ops = &rvirtio_blk_mq_ops;
	b->tag_set.nr_hw_queues = nr_queues;
	b->tag_set.queue_depth = depth;
	b->tag_set.numa_node = NUMA_NO_NODE;
	b->tag_set.cmd_size = b->pdu_offset + sizeof(struct rvirtio_blk_pdu) +
			      sizeof(struct scatterlist) * l->max_segments;
	b->tag_set.timeout = msecs_to_jiffies(timeout_ms);
	b->tag_set.driver_data = b;
	err = blk_mq_alloc_tag_set(&b->tag_set);
	if (err)
		goto out_free;

	disk = blk_mq_alloc_disk(&b->tag_set, &lim, b);
	if (IS_ERR(disk)) {
		err = PTR_ERR(disk);
		goto out_tags;
	}
	disk->fops = &rvirtio_blk_fops;
	disk->private_data = b;
	b->disk = disk;
	return b;

out_tags:
	blk_mq_free_tag_set(&b->tag_set);
out_free:
	mutex_destroy(&b->lock);
	kfree(b);
	return ERR_PTR(err);
}

/* The disk's sysfs attributes; the driver answers through the callbacks. */
static struct rvirtio_blk *rvirtio_blk_of_dev(struct device *dev)
{
	return dev_to_disk(dev)->private_data;
}

static ssize_t serial_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct rvirtio_blk *b = rvirtio_blk_of_dev(dev);
	void *drv = rvirtio_blk_enter(b);
	int n;

	if (!drv)
		return -ENODEV;
	/* Room for the string and the newline within the sysfs page. */
	n = b->cb->serial(drv, b, buf, PAGE_SIZE - 1);
	rvirtio_blk_exit(b);
	if (n < 0)
		return n;
	if (n > PAGE_SIZE - 2)
		n = PAGE_SIZE - 2;
	buf[n++] = '\n';
	return n;
}
static DEVICE_ATTR_RO(serial);

static const char *const rvirtio_blk_cache_types[] = {
	"write through", "write back"
};

static ssize_t cache_type_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct rvirtio_blk *b = rvirtio_blk_of_dev(dev);
	void *drv = rvirtio_blk_enter(b);
	int mode;

	if (!drv)
		return -ENODEV;
	mode = b->cb->write_cache(drv);
	rvirtio_blk_exit(b);
	if (mode < 0)
		return mode;
	return sysfs_emit(buf, "%s\n", rvirtio_blk_cache_types[mode ? 1 : 0]);
}

static ssize_t cache_type_store(struct device *dev, struct device_attribute *attr,
				const char *buf, size_t count)
{
	struct rvirtio_blk *b = rvirtio_blk_of_dev(dev);
	struct queue_limits lim;
	int i, mode, err;
	void *drv;

	i = sysfs_match_string(rvirtio_blk_cache_types, buf);
	if (i < 0)
		return i;
	drv = rvirtio_blk_enter(b);
	if (!drv)
		return -ENODEV;
	mode = b->cb->set_write_cache(drv, i == 1);
	if (mode < 0) {
		rvirtio_blk_exit(b);
		return mode;
	}
	lim = queue_limits_start_update(b->disk->queue);
	if (mode)
		lim.features |= BLK_FEAT_WRITE_CACHE;
	else
		lim.features &= ~BLK_FEAT_WRITE_CACHE;
	err = queue_limits_commit_update_frozen(b->disk->queue, &lim);
	rvirtio_blk_exit(b);
	return err ? err : count;
}
static DEVICE_ATTR_RW(cache_type);

static struct attribute *rvirtio_blk_attrs[] = {
	&dev_attr_serial.attr,
	&dev_attr_cache_type.attr,
	NULL,
};

static umode_t rvirtio_blk_attr_visible(struct kobject *kobj, struct attribute *a, int n)
{
	struct rvirtio_blk *b = rvirtio_blk_of_dev(kobj_to_dev(kobj));
	umode_t mode = a->mode;
	void *drv;

	if (a != &dev_attr_cache_type.attr)
		return mode;
	drv = rvirtio_blk_enter(b);
	if (!drv)
		return 0;
	if (!b->cb->write_cache_switchable(drv))
		mode = 0444;
	rvirtio_blk_exit(b);
	return mode;
}

static const struct attribute_group rvirtio_blk_attr_group = {
	.attrs = rvirtio_blk_attrs,
	.is_visible = rvirtio_blk_attr_visible,
};

static const struct attribute_group *rvirtio_blk_attr_groups[] = {
	&rvirtio_blk_attr_group,
	NULL,
};

int rvirtio_blk_add(struct rvirtio_blk *b, struct device *parent, const char *name,
		    u64 sectors, bool read_only);
int rvirtio_blk_add(struct rvirtio_blk *b, struct device *parent, const char *name,
		    u64 sectors, bool read_only)
{
	strscpy(b->disk->disk_name, name, DISK_NAME_LEN);
	set_capacity(b->disk, sectors);
	set_disk_ro(b->disk, read_only);
	return device_add_disk(parent, b->disk, rvirtio_blk_attr_groups);
}

/*
 * Runs a driver-private read (REQ_OP_DRV_IN) of len bytes through the
 * queue, like any other request, and copies what the device wrote to out
 * (zeroes where it wrote nothing). Returns 0 or a negative errno.
 */
int rvirtio_blk_drv_in(struct rvirtio_blk *b, u8 *out, u32 len);
int rvirtio_blk_drv_in(struct rvirtio_blk *b, u8 *out, u32 len)
{
	struct request *rq;
	void *buf;
	int err;

	buf = kzalloc(len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	rq = blk_mq_alloc_request(b->disk->queue, REQ_OP_DRV_IN, 0);
	if (IS_ERR(rq)) {
		err = PTR_ERR(rq);
		goto out_free;
	}
	err = blk_rq_map_kern(rq, buf, len, GFP_KERNEL);
	if (!err)
		err = blk_status_to_errno(blk_execute_rq(rq, false));
	blk_mq_free_request(rq);
	if (!err)
		memcpy(out, buf, len);
out_free:
	kfree(buf);
	return err;
}

/* How requests are mapped (see struct rvirtio_blk); before the disk is added. */
void rvirtio_blk_set_dma_api(struct rvirtio_blk *b, bool dma_api);
void rvirtio_blk_set_dma_api(struct rvirtio_blk *b, bool dma_api)
{
	b->dma_api = dma_api;
}

void rvirtio_blk_set_capacity(struct rvirtio_blk *b, u64 sectors);
void rvirtio_blk_set_capacity(struct rvirtio_blk *b, u64 sectors)
{
	set_capacity_and_notify(b->disk, sectors);
}

/* Stops new I/O for good (surprise removal, failed device). */
void rvirtio_blk_mark_dead(struct rvirtio_blk *b);
void rvirtio_blk_mark_dead(struct rvirtio_blk *b)
{
	blk_mark_disk_dead(b->disk);
}

/*
 * Deletes the disk and lets go of the driver's data: when this returns, no
 * callback runs with drv or will (see struct rvirtio_blk), so the driver
 * may free it. The structure itself lives on while the disk is referenced
 * (an open block device) and is freed by rvirtio_blk_free_disk().
 */
void rvirtio_blk_destroy(struct rvirtio_blk *b, bool added);
void rvirtio_blk_destroy(struct rvirtio_blk *b, bool added)
{
	if (!added) {
		/* Never added: no caller can hold it, and no .free_disk runs. */
		put_disk(b->disk);
		blk_mq_free_tag_set(&b->tag_set);
		mutex_destroy(&b->lock);
		kfree(b);
		return;
	}
	del_gendisk(b->disk);
	mutex_lock(&b->lock);
	b->drv = NULL;
	mutex_unlock(&b->lock);
	/* As the C driver: the queue is dead, the tags go before the disk. */
	blk_mq_free_tag_set(&b->tag_set);
	put_disk(b->disk);
}

/*
 * Gives up on deleting the disk: requests are still with a device that may
 * use their memory (it did not reset and its DMA could not be stopped), so
 * they can never end and del_gendisk() would wait for them forever. The
 * disk (dead: new I/O fails), its tag set and the driver's data stay, and
 * so does this module, whose code they call: its reference is taken here
 * and never dropped.
 */
void rvirtio_blk_leak(struct rvirtio_blk *b);
void rvirtio_blk_leak(struct rvirtio_blk *b)
{
	__module_get(THIS_MODULE);
}

/* The request must not deallocate (write zeroes without unmapping). */
bool rvirtio_rq_nounmap(struct request *rq);
bool rvirtio_rq_nounmap(struct request *rq)
{
	return rq->cmd_flags & REQ_NOUNMAP;
}

/*
 * The wire area of a request: the first wire.size bytes of its per-request
 * data, aligned as struct request (zeroed by blk-mq at allocation). Rust
 * finds it the same way, one struct request past the request
 * (RVIRTIO_BLK_REQUEST_SIZE checks the size); it also reads the request's
 * operation, position and size itself (the fields req_op(), blk_rq_pos()
 * and blk_rq_bytes() read), and ends requests with blk_mq_end_request().
 */
static void *rvirtio_rq_wire(struct request *rq)
{
	return blk_mq_rq_to_pdu(rq);
}

/* The bios of a request: the first, and the one after a bio. */
struct bio *rvirtio_rq_bio(struct request *rq);
struct bio *rvirtio_rq_bio(struct request *rq)
{
	return rq->bio;
}

struct bio *rvirtio_bio_next(struct bio *bio, u64 *sector, u32 *bytes);
struct bio *rvirtio_bio_next(struct bio *bio, u64 *sector, u32 *bytes)
{
	*sector = bio->bi_iter.bi_sector;
	*bytes = bio->bi_iter.bi_size;
	return bio->bi_next;
}

bool rvirtio_rq_fua(struct request *rq);
bool rvirtio_rq_fua(struct request *rq)
{
	return rq->cmd_flags & REQ_FUA;
}

/* The next request of a queue_rqs batch, or NULL. */
struct request *rvirtio_rq_list_pop(struct rq_list *rqs);
struct request *rvirtio_rq_list_pop(struct rq_list *rqs)
{
	return rq_list_pop(rqs);
}

/*
 * Gives a request of a queue_rqs batch back to blk-mq: one not started
 * joins back, which blk-mq issues through queue_rq; a started one (mapped
 * and unmapped again, the ring was full) is requeued, as the C driver's
 * virtblk_add_req_batch does (issuing it again would start it twice).
 */
void rvirtio_rq_give_back(struct rq_list *back, struct request *rq);
void rvirtio_rq_give_back(struct rq_list *back, struct request *rq)
{
	if (blk_mq_request_started(rq))
		blk_mq_requeue_request(rq, true);
	else
		rq_list_add_tail(back, rq);
}

/* How often the request timed out since it was started (1 in the first ->timeout). */
u32 rvirtio_rq_timeouts(struct request *rq);
u32 rvirtio_rq_timeouts(struct request *rq)
{
	return rvirtio_blk_pdu(rq->q->queuedata, rq)->timeouts;
}

/*
 * Completes from the interrupt; ->complete runs later (softirq or IPI), or
 * now. used_len is what the device reported writing.
 */
void rvirtio_rq_complete(struct request *rq, u32 used_len);
void rvirtio_rq_complete(struct request *rq, u32 used_len)
{
	struct rvirtio_blk_pdu *p = rvirtio_blk_pdu(rq->q->queuedata, rq);

	p->used_len = used_len;
	if (!blk_should_fake_timeout(rq->q))
		blk_mq_complete_request(rq);
}

/*
 * Maps a request for the device: the wire area's header and status byte
 * (one mapping), the data (the first payload_len bytes of the wire area's
 * payload if that is not zero, else the request's data segments), and
 * writes (address, length) pairs: the header, then the data, then the
 * status. The addresses are the DMA API's or physical ones, as b->dma_api
 * says (rvirtio_map_single/rvirtio_map_sg of helpers.c); a DMA segment
 * never exceeds the queue's max_segment_size, which the driver also set
 * as the device's dma_set_max_seg_size() so an IOMMU merges no further.
 * *n_out is the number of leading device-readable elements. Starts the
 * request once it is mapped (blk_mq_start_request). Returns the number of
 * elements or a negative errno; on failure nothing stays mapped and the
 * request is not started. The driver wrote the header before.
 */
int rvirtio_rq_map(struct rvirtio_blk *b, struct request *rq, u32 payload_len, u64 *addrs,
		   u32 *lens, u32 max, u32 *n_out);
int rvirtio_rq_map(struct rvirtio_blk *b, struct request *rq, u32 payload_len, u64 *addrs,
		   u32 *lens, u32 max, u32 *n_out)
{
	struct rvirtio_blk_pdu *p = rvirtio_blk_pdu(b, rq);
	u8 *wire = rvirtio_rq_wire(rq);
	u32 hdr_map_len = b->wire.status_offset + 1;
	struct device *dev = b->dma_dev;
	struct scatterlist *s;
	enum dma_data_direction dir = DMA_NONE;
	int nents = 0, i, n = 0;

	p->nents = 0;
	p->hdr_mapped = 0;
	p->payload_len = 0;
	p->used_len = 0;
	p->in_len = 1;

	if (payload_len) {
		if (payload_len > b->wire.payload_max || max < 3)
			return -EINVAL;
		if (rvirtio_map_single(dev, b->dma_api, wire + b->wire.payload_offset, payload_len,
				       DMA_TO_DEVICE, &p->payload_dma))
			return -ENOMEM;
		p->payload_len = payload_len;
	} else if (blk_rq_nr_phys_segments(rq)) {
		if (blk_rq_nr_phys_segments(rq) > b->max_segments)
			return -EINVAL;
		/* Only the entries blk_rq_map_sg can fill need clearing. */
		sg_init_table(p->sg, blk_rq_nr_phys_segments(rq));
		nents = blk_rq_map_sg(rq, p->sg);
		if (nents <= 0)
			return -EINVAL;
		dir = rq_data_dir(rq) == WRITE ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
	}
	if ((u32)nents + 2 > max)
		goto err_payload_inval;

	/* The device reads the header and writes the status byte after it. */
	if (rvirtio_map_single(dev, b->dma_api, wire, hdr_map_len, DMA_BIDIRECTIONAL, &p->hdr_dma))
		goto err_payload;
	p->hdr_mapped = 1;
	if (nents) {
		int mapped = rvirtio_map_sg(dev, b->dma_api, p->sg, nents, dir);

		if (!mapped)
			goto err;
		p->nents = nents;
		p->data_dir = dir;
		nents = mapped;
	}

	addrs[n] = p->hdr_dma;
	lens[n++] = b->wire.header_len;
	if (p->payload_len) {
		addrs[n] = p->payload_dma;
		lens[n++] = p->payload_len;
	}
	if (dir == DMA_TO_DEVICE) {
		for_each_sg(p->sg, s, nents, i) {
			addrs[n] = sg_dma_address(s);
			lens[n++] = sg_dma_len(s);
		}
	}
	*n_out = n;
	if (dir == DMA_FROM_DEVICE) {
		for_each_sg(p->sg, s, nents, i) {
			addrs[n] = sg_dma_address(s);
			lens[n++] = sg_dma_len(s);
			p->in_len += sg_dma_len(s);
		}
	}
	addrs[n] = p->hdr_dma + b->wire.status_offset;
	lens[n++] = 1;
	/*
	 * Started once mapped, as the C driver does (in the same call: one
	 * call less per request); one that fails here was never started.
	 */
	p->timeouts = 0;
	blk_mq_start_request(rq);
	return n;
err:
	rvirtio_unmap_single(dev, b->dma_api, p->hdr_dma, hdr_map_len, DMA_BIDIRECTIONAL);
	p->hdr_mapped = 0;
err_payload:
	if (p->payload_len)
		rvirtio_unmap_single(dev, b->dma_api, p->payload_dma, p->payload_len,
				     DMA_TO_DEVICE);
	p->payload_len = 0;
	return -ENOMEM;
err_payload_inval:
	if (p->payload_len)
		rvirtio_unmap_single(dev, b->dma_api, p->payload_dma, p->payload_len,
				     DMA_TO_DEVICE);
	p->payload_len = 0;
	return -EINVAL;
}

/*
 * Layout of the structures and values rust/kext/blk/ mirrors, as the C
 * compiler sees them (the rvirtio_c_layout mechanism of helpers.c, for the
 * shim's own structures). The ids are the discriminants of
 * kext::blk::CField.
 */
enum rvirtio_blk_c_field {
	RVIRTIO_BLK_LIMITS,
	RVIRTIO_BLK_LIMITS_LOGICAL_BLOCK_SIZE,
	RVIRTIO_BLK_LIMITS_PHYSICAL_BLOCK_SIZE,
	RVIRTIO_BLK_LIMITS_ALIGNMENT_OFFSET,
	RVIRTIO_BLK_LIMITS_IO_MIN,
	RVIRTIO_BLK_LIMITS_IO_OPT,
	RVIRTIO_BLK_LIMITS_MAX_HW_SECTORS,
	RVIRTIO_BLK_LIMITS_MAX_SEGMENTS,
	RVIRTIO_BLK_LIMITS_MAX_SEGMENT_SIZE,
	RVIRTIO_BLK_LIMITS_DMA_ALIGNMENT,
	RVIRTIO_BLK_LIMITS_MAX_DISCARD_SECTORS,
	RVIRTIO_BLK_LIMITS_MAX_DISCARD_SEGMENTS,
	RVIRTIO_BLK_LIMITS_DISCARD_GRANULARITY,
	RVIRTIO_BLK_LIMITS_MAX_WRITE_ZEROES_SECTORS,
	RVIRTIO_BLK_LIMITS_WRITE_CACHE,
	RVIRTIO_BLK_LIMITS_FUA,
	RVIRTIO_BLK_CB,
	RVIRTIO_BLK_CB_QUEUE_RQ,
	RVIRTIO_BLK_CB_COMMIT_RQS,
	RVIRTIO_BLK_CB_COMPLETE,
	RVIRTIO_BLK_CB_TIMEOUT,
	RVIRTIO_BLK_CB_SERIAL,
	RVIRTIO_BLK_CB_WRITE_CACHE,
	RVIRTIO_BLK_CB_SET_WRITE_CACHE,
	RVIRTIO_BLK_CB_WRITE_CACHE_SWITCHABLE,
	RVIRTIO_BLK_CB_GEOMETRY,
	RVIRTIO_BLK_CB_QUEUE_RQS,
	RVIRTIO_BLK_GEO,
	RVIRTIO_BLK_GEO_CYLINDERS,
	RVIRTIO_BLK_GEO_HEADS,
	RVIRTIO_BLK_GEO_SECTORS,
	RVIRTIO_BLK_WIRE,
	RVIRTIO_BLK_WIRE_SIZE,
	RVIRTIO_BLK_WIRE_ALIGN,
	RVIRTIO_BLK_WIRE_HEADER_LEN,
	RVIRTIO_BLK_WIRE_STATUS_OFFSET,
	RVIRTIO_BLK_WIRE_PAYLOAD_OFFSET,
	RVIRTIO_BLK_WIRE_PAYLOAD_MAX,
	RVIRTIO_BLK_STS_OK,
	RVIRTIO_BLK_STS_NOTSUPP,
	RVIRTIO_BLK_STS_RESOURCE,
	RVIRTIO_BLK_STS_IOERR,
	RVIRTIO_BLK_STS_DEV_RESOURCE,
	RVIRTIO_BLK_REQUEST_ALIGN,
	RVIRTIO_BLK_REQUEST_SIZE,
};

#define RVIRTIO_OFF(t, T, f, F) \
	case RVIRTIO_BLK_##T##_##F: return offsetof(struct rvirtio_blk_##t, f)
#define RVIRTIO_STS(s) case RVIRTIO_BLK_STS_##s: return (__force u8)BLK_STS_##s

/*
 * Returns the size of a structure id, the offset of a field id, the value
 * of a constant id, or -1 for an unknown id.
 */
long rvirtio_blk_c_layout(unsigned int id);
long rvirtio_blk_c_layout(unsigned int id)
{
	switch (id) {
	case RVIRTIO_BLK_LIMITS: return sizeof(struct rvirtio_blk_limits);
	RVIRTIO_OFF(limits, LIMITS, logical_block_size, LOGICAL_BLOCK_SIZE);
	RVIRTIO_OFF(limits, LIMITS, physical_block_size, PHYSICAL_BLOCK_SIZE);
	RVIRTIO_OFF(limits, LIMITS, alignment_offset, ALIGNMENT_OFFSET);
	RVIRTIO_OFF(limits, LIMITS, io_min, IO_MIN);
	RVIRTIO_OFF(limits, LIMITS, io_opt, IO_OPT);
	RVIRTIO_OFF(limits, LIMITS, max_hw_sectors, MAX_HW_SECTORS);
	RVIRTIO_OFF(limits, LIMITS, max_segments, MAX_SEGMENTS);
	RVIRTIO_OFF(limits, LIMITS, max_segment_size, MAX_SEGMENT_SIZE);
	RVIRTIO_OFF(limits, LIMITS, dma_alignment, DMA_ALIGNMENT);
	RVIRTIO_OFF(limits, LIMITS, max_discard_sectors, MAX_DISCARD_SECTORS);
	RVIRTIO_OFF(limits, LIMITS, max_discard_segments, MAX_DISCARD_SEGMENTS);
	RVIRTIO_OFF(limits, LIMITS, discard_granularity, DISCARD_GRANULARITY);
	RVIRTIO_OFF(limits, LIMITS, max_write_zeroes_sectors, MAX_WRITE_ZEROES_SECTORS);
	RVIRTIO_OFF(limits, LIMITS, write_cache, WRITE_CACHE);
	RVIRTIO_OFF(limits, LIMITS, fua, FUA);
	case RVIRTIO_BLK_CB: return sizeof(struct rvirtio_blk_cb);
	RVIRTIO_OFF(cb, CB, queue_rq, QUEUE_RQ);
	RVIRTIO_OFF(cb, CB, commit_rqs, COMMIT_RQS);
	RVIRTIO_OFF(cb, CB, complete, COMPLETE);
	RVIRTIO_OFF(cb, CB, timeout, TIMEOUT);
	RVIRTIO_OFF(cb, CB, serial, SERIAL);
	RVIRTIO_OFF(cb, CB, write_cache, WRITE_CACHE);
	RVIRTIO_OFF(cb, CB, set_write_cache, SET_WRITE_CACHE);
	RVIRTIO_OFF(cb, CB, write_cache_switchable, WRITE_CACHE_SWITCHABLE);
	RVIRTIO_OFF(cb, CB, geometry, GEOMETRY);
	RVIRTIO_OFF(cb, CB, queue_rqs, QUEUE_RQS);
	case RVIRTIO_BLK_GEO: return sizeof(struct rvirtio_blk_geo);
	RVIRTIO_OFF(geo, GEO, cylinders, CYLINDERS);
	RVIRTIO_OFF(geo, GEO, heads, HEADS);
	RVIRTIO_OFF(geo, GEO, sectors, SECTORS);
	case RVIRTIO_BLK_WIRE: return sizeof(struct rvirtio_blk_wire);
	RVIRTIO_OFF(wire, WIRE, size, SIZE);
	RVIRTIO_OFF(wire, WIRE, align, ALIGN);
	RVIRTIO_OFF(wire, WIRE, header_len, HEADER_LEN);
	RVIRTIO_OFF(wire, WIRE, status_offset, STATUS_OFFSET);
	RVIRTIO_OFF(wire, WIRE, payload_offset, PAYLOAD_OFFSET);
	RVIRTIO_OFF(wire, WIRE, payload_max, PAYLOAD_MAX);
	RVIRTIO_STS(OK);
	RVIRTIO_STS(NOTSUPP);
	RVIRTIO_STS(RESOURCE);
	RVIRTIO_STS(IOERR);
	RVIRTIO_STS(DEV_RESOURCE);
	case RVIRTIO_BLK_REQUEST_ALIGN: return __alignof__(struct request);
	/* blk_mq_rq_to_pdu() is rq + 1: the per-request data starts here. */
	case RVIRTIO_BLK_REQUEST_SIZE: return sizeof(struct request);
	}
	return -1;
}
#undef RVIRTIO_OFF
#undef RVIRTIO_STS
