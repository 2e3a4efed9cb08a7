// SPDX-License-Identifier: GPL-2.0

//! rvirtio_blk: the virtio block device (virtio 1.4 §5.2) on blk-mq.
//!
//! One hardware queue per virtqueue (`VIRTIO_BLK_F_MQ`, capped by the CPUs
//! and the `queues` parameter); the queue depth follows the ring size. A
//! request becomes a descriptor chain of the 16-byte header, the data
//! segments (mapped with the DMA API, honouring `seg_max` and `size_max`)
//! and the status byte last; it completes from the interrupt, and the
//! device status maps to a block status (`VIRTIO_BLK_S_IOERR` to
//! `BLK_STS_IOERR`, `VIRTIO_BLK_S_UNSUPP` to `BLK_STS_NOTSUPP`, anything
//! else the device writes to `BLK_STS_IOERR`). A full ring returns
//! `BLK_STS_RESOURCE`, and blk-mq runs the queue again.
//!
//! A request that times out (the `timeout_ms` parameter) makes the driver
//! look at the device: if it is failed, asked for a reset, or lost
//! DRIVER_OK, the driver resets it (so it stops all DMA), fails every
//! outstanding request with an I/O error and fails all new ones, instead of
//! hanging. Removal (including surprise removal) does the same before the
//! disk goes away.
//!
//! C version of this driver: `drivers/block/virtio_blk.c`.

use kernel::{
    device::{Bound, Device},
    impl_has_work, new_work,
    prelude::*,
    str::CString,
    sync::atomic::{Atomic, Relaxed},
    sync::{Arc, Mutex},
    workqueue::{self, Work, WorkItem},
};

#[path = "../../rust/virtio/mod.rs"]
pub mod virtio;

#[path = "../../rust/kext/mod.rs"]
pub mod kext;

#[path = "../../rust/kvirtio/mod.rs"]
pub mod kvirtio;

#[path = "../../rust/kext/blk.rs"]
pub mod blk;

use blk::{status, Disk, DiskRef, Limits, Op, Request, Timeout};
use kvirtio::driver::{DeviceConfig, DeviceStatus, Driver, Queue, QueueSpec, Setup};
use virtio::{
    features::{DriverFeatures, Feature, Features},
    queue::Buf,
    spec::DeviceId,
};

crate::module_virtio_driver! {
    type: RvirtioBlk,
    name: "rvirtio_blk",
    authors: ["rvirtio developers"],
    description: "virtio block device, in Rust",
    license: "GPL",
    params: {
        queues: u32 {
            default: 0,
            description: "Most hardware queues (0: one per CPU, as many as the device has)",
        },
        timeout_ms: u32 {
            default: 30000,
            description: "Request timeout in milliseconds, after which an unresponsive device is failed",
        },
        force_legacy: u32 {
            default: 0,
            description: "Use the legacy interface of transitional devices (0: modern first)",
        },
    },
}

/// Feature bits (§5.2.3).
mod f {
    pub(crate) const SIZE_MAX: u8 = 1;
    pub(crate) const SEG_MAX: u8 = 2;
    pub(crate) const GEOMETRY: u8 = 4;
    pub(crate) const RO: u8 = 5;
    pub(crate) const BLK_SIZE: u8 = 6;
    pub(crate) const FLUSH: u8 = 9;
    pub(crate) const TOPOLOGY: u8 = 10;
    pub(crate) const MQ: u8 = 12;
}

/// Offsets in `struct virtio_blk_config` (§5.2.4).
mod cfg {
    pub(crate) const CAPACITY: usize = 0;
    pub(crate) const SIZE_MAX: usize = 8;
    pub(crate) const SEG_MAX: usize = 12;
    pub(crate) const BLK_SIZE: usize = 20;
    pub(crate) const PHYSICAL_BLOCK_EXP: usize = 24;
    pub(crate) const ALIGNMENT_OFFSET: usize = 25;
    pub(crate) const MIN_IO_SIZE: usize = 26;
    pub(crate) const OPT_IO_SIZE: usize = 28;
    pub(crate) const NUM_QUEUES: usize = 34;
}

/// Request types (§5.2.6).
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;

/// Device status values (§5.2.6).
const S_OK: u8 = 0;
const S_IOERR: u8 = 1;
const S_UNSUPP: u8 = 2;

/// Most data segments per request: bounds the on-stack element arrays.
const MAX_SEGMENTS: u32 = 64;
/// Header and status.
const EXTRA: usize = 2;

/// Maps a virtio-blk status byte to a `blk_status_t`.
pub fn blk_status(status: u8) -> u32 {
    match status {
        S_OK => status::OK,
        S_UNSUPP => status::NOTSUPP,
        // S_IOERR, and anything a device should not write.
        _ => status::IOERR,
    }
}

/// The virtio-blk request type and sector of a block operation, or `None`
/// for one the driver does not support.
pub fn request_type(op: Op, pos: u64, flush: bool) -> Option<(u32, u64)> {
    match op {
        Op::Read => Some((T_IN, pos)),
        Op::Write => Some((T_OUT, pos)),
        Op::Flush if flush => Some((T_FLUSH, 0)),
        _ => None,
    }
}

/// Numbers the disks (`rvda`, `rvdb`, ...; the C driver's are `vd*`).
static NEXT_INDEX: Atomic<u32> = Atomic::new(0);

/// The driver.
pub struct RvirtioBlk;

/// One device.
pub struct Blk {
    queues: KVec<Arc<Queue<Request>>>,
    status: Arc<DeviceStatus>,
    flush: bool,
    /// The device was failed or removed: every request fails.
    dead: Atomic<i32>,
}

impl Blk {
    fn queue(&self, hctx: u32) -> Option<&Arc<Queue<Request>>> {
        self.queues.get(hctx as usize)
    }

    /// Stops the device and fails everything it holds.
    fn fail_all(&self, disk: DiskRef) {
        self.dead.store(1, Relaxed);
        self.status.fail();
        // After the reset the device no longer touches the buffers.
        if self.status.reset().is_err() {
            pr_err!("the device does not reset\n");
        }
        for q in self.queues.iter() {
            while let Some(rq) = q.detach_unused() {
                disk.unmap(&rq);
                rq.end(status::IOERR);
            }
        }
    }
}

impl blk::Operations for Blk {
    fn queue_rq(
        &self,
        disk: DiskRef,
        hctx: u32,
        rq: Request,
        last: bool,
    ) -> Result<(), (u32, Request)> {
        if self.dead.load(Relaxed) != 0 {
            return Err((status::IOERR, rq));
        }
        let Some(q) = self.queue(hctx) else {
            return Err((status::IOERR, rq));
        };
        let Some((ty, sector)) = request_type(rq.op(), rq.pos(), self.flush) else {
            return Err((status::NOTSUPP, rq));
        };
        rq.start();
        let mut addrs = [0u64; MAX_SEGMENTS as usize + EXTRA];
        let mut lens = [0u32; MAX_SEGMENTS as usize + EXTRA];
        let (n, n_out) = match disk.map(&rq, ty, sector, &mut addrs, &mut lens) {
            Ok(v) => v,
            Err(_) => return Err((status::RESOURCE, rq)),
        };
        let mut bufs = [Buf::new(0, 0); MAX_SEGMENTS as usize + EXTRA];
        for ((b, a), l) in bufs.iter_mut().zip(addrs.iter()).zip(lens.iter()).take(n) {
            *b = Buf::new(*a, *l);
        }
        let (out, inb) = match (bufs.get(..n_out), bufs.get(n_out..n)) {
            (Some(o), Some(i)) => (o, i),
            _ => {
                disk.unmap(&rq);
                return Err((status::IOERR, rq));
            }
        };
        if let Err((e, rq)) = q.add(out, inb, rq) {
            disk.unmap(&rq);
            let _ = q.kick();
            if e == ENOSPC {
                // The ring is full: blk-mq runs the queue again when a
                // request completes (or after a short delay), so there is
                // no stop/restart race with the completion path.
                return Err((status::RESOURCE, rq));
            }
            return Err((status::IOERR, rq));
        }
        if last {
            let _ = q.kick();
        }
        Ok(())
    }

    fn commit_rqs(&self, hctx: u32) {
        if let Some(q) = self.queue(hctx) {
            let _ = q.kick();
        }
    }

    fn complete(&self, disk: DiskRef, rq: Request) {
        let status = disk.unmap(&rq);
        rq.end(blk_status(status));
    }

    fn timeout(&self, disk: DiskRef, _rq: &Request) -> Timeout {
        if self.status.is_broken() || !self.status.is_live() {
            pr_err!("request timed out and the device is not live: failing it\n");
            // The timed-out request is among those failed here.
            self.fail_all(disk);
            return Timeout::Done;
        }
        Timeout::ResetTimer
    }
}

/// The disk, and the work that follows capacity changes.
#[pin_data]
pub struct Control {
    #[pin]
    disk: Mutex<Option<Disk<Blk>>>,
    config: Arc<DeviceConfig>,
    #[pin]
    work: Work<Control>,
}

impl_has_work! {
    impl HasWork<Self> for Control { self.work }
}

impl WorkItem for Control {
    type Pointer = Arc<Control>;

    /// A configuration change: re-read the capacity and tell the kernel.
    fn run(this: Arc<Control>) {
        let Ok(sectors) = this.config.read_u64(cfg::CAPACITY) else {
            pr_err!("cannot read the capacity after a configuration change\n");
            return;
        };
        if let Some(disk) = this.disk.lock().as_ref() {
            pr_info!("capacity changed: {} sectors\n", sectors);
            disk.set_capacity(sectors);
        }
    }
}

/// Per-device driver data.
pub struct BlkData {
    blk: Arc<Blk>,
    ctl: Arc<Control>,
    sectors: u64,
    read_only: bool,
    limits: Limits,
    nqueues: u32,
    depth: u32,
}

/// What the device's configuration says, read consistently.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Config {
    capacity: u64,
    size_max: u32,
    seg_max: u32,
    blk_size: u32,
    physical_block_exp: u8,
    alignment_offset: u8,
    min_io_size: u16,
    opt_io_size: u32,
    num_queues: u16,
}

fn read_config(setup: &mut Setup<'_>) -> Result<Config> {
    let has = |bit: u8| setup.has_feature(Feature::new(bit));
    let (size_max, seg_max, blk_size, topo, mq) = (
        has(f::SIZE_MAX),
        has(f::SEG_MAX),
        has(f::BLK_SIZE),
        has(f::TOPOLOGY),
        has(f::MQ),
    );
    setup.read_config(|r| {
        Ok(Config {
            capacity: r.read_u64(cfg::CAPACITY)?,
            size_max: if size_max {
                r.read_u32(cfg::SIZE_MAX)?
            } else {
                0
            },
            seg_max: if seg_max {
                r.read_u32(cfg::SEG_MAX)?
            } else {
                0
            },
            blk_size: if blk_size {
                r.read_u32(cfg::BLK_SIZE)?
            } else {
                0
            },
            physical_block_exp: if topo {
                r.read_u8(cfg::PHYSICAL_BLOCK_EXP)?
            } else {
                0
            },
            alignment_offset: if topo {
                r.read_u8(cfg::ALIGNMENT_OFFSET)?
            } else {
                0
            },
            min_io_size: if topo {
                r.read_u16(cfg::MIN_IO_SIZE)?
            } else {
                0
            },
            opt_io_size: if topo {
                r.read_u32(cfg::OPT_IO_SIZE)?
            } else {
                0
            },
            num_queues: if mq { r.read_u16(cfg::NUM_QUEUES)? } else { 1 },
        })
    })
}

/// Turns the device's configuration into queue limits, refusing values no
/// real device has (the device is untrusted).
fn limits(c: &Config) -> Result<Limits> {
    let lbs = if c.blk_size == 0 { 512 } else { c.blk_size };
    if !(512..=65536).contains(&lbs) || !lbs.is_power_of_two() {
        pr_err!("invalid block size {}\n", c.blk_size);
        return Err(EINVAL);
    }
    if c.physical_block_exp > 16 {
        pr_err!(
            "rvirtio_blk: invalid physical block exponent {}\n",
            c.physical_block_exp
        );
        return Err(EINVAL);
    }
    let pbs = lbs << c.physical_block_exp;
    let seg_max = match c.seg_max {
        0 => MAX_SEGMENTS,
        n => n.min(MAX_SEGMENTS),
    };
    // A segment is at most 4 GiB - 1 on the ring; 0 means no limit.
    let size_max = match c.size_max {
        0 => u32::MAX,
        n => n.max(4096),
    };
    Ok(Limits {
        logical_block_size: lbs,
        physical_block_size: pbs,
        alignment_offset: u32::from(c.alignment_offset) * lbs,
        io_min: u32::from(c.min_io_size) * lbs,
        io_opt: c.opt_io_size.saturating_mul(lbs),
        max_hw_sectors: u32::MAX,
        max_segments: seg_max,
        max_segment_size: size_max,
        dma_alignment: 511,
        write_cache: false,
        fua: false,
    })
}

impl Driver for RvirtioBlk {
    const DEVICE_ID: DeviceId = DeviceId::BLOCK;
    const NAME: &'static CStr = c"rvirtio_blk";
    const FEATURES: DriverFeatures<'static> = DriverFeatures::new(
        Features::single(Feature::new(f::SIZE_MAX))
            .with(Feature::new(f::SEG_MAX))
            .with(Feature::new(f::GEOMETRY))
            .with(Feature::new(f::RO))
            .with(Feature::new(f::BLK_SIZE))
            .with(Feature::new(f::FLUSH))
            .with(Feature::new(f::TOPOLOGY))
            .with(Feature::new(f::MQ)),
    );
    type Data = BlkData;

    fn force_legacy() -> bool {
        *module_parameters::force_legacy.value() != 0
    }

    fn probe(setup: &mut Setup<'_>) -> Result<BlkData> {
        let c = read_config(setup)?;
        let mut limits = limits(&c)?;
        let flush = setup.has_feature(Feature::new(f::FLUSH));
        limits.write_cache = flush;
        let read_only = setup.has_feature(Feature::new(f::RO));
        let cap = match *module_parameters::queues.value() {
            0 => kext::nr_cpu_ids(),
            n => n,
        };
        let nqueues = u32::from(c.num_queues.max(1)).min(cap).max(1);
        let spec = QueueSpec {
            max_size: 256,
            max_indirect: u16::try_from(limits.max_segments + EXTRA as u32).unwrap_or(66),
        };
        let queues = setup.find_queues::<Request>(nqueues as u16, spec)?;
        let depth = u32::from(queues.first().map_or(0, |q| q.size()));
        let config = setup.device_config()?;
        let ctl = Arc::pin_init(
            pin_init!(Control {
                disk <- kernel::new_mutex!(None),
                config,
                work <- new_work!("rvirtio_blk::config"),
            }),
            GFP_KERNEL,
        )?;
        let blk = Arc::new(
            Blk {
                queues,
                status: setup.device_status(),
                flush,
                dead: Atomic::new(0),
            },
            GFP_KERNEL,
        )?;
        Ok(BlkData {
            blk,
            ctl,
            sectors: c.capacity,
            read_only,
            limits,
            nqueues,
            depth,
        })
    }

    fn ready(data: &BlkData, dev: &Device<Bound>) -> Result {
        let timeout = *module_parameters::timeout_ms.value();
        let mut disk = Disk::new(
            dev,
            data.nqueues,
            data.depth,
            timeout.max(100),
            &data.limits,
            data.blk.clone(),
        )?;
        let index = NEXT_INDEX.fetch_add(1, Relaxed);
        let name = if index < 26 {
            // CAST: `index < 26`.
            CString::try_from_fmt(fmt!("rvd{}", (b'a' + index as u8) as char))?
        } else {
            CString::try_from_fmt(fmt!("rvd{}", index))?
        };
        disk.add(dev, &name, data.sectors, data.read_only)?;
        dev_info!(
            dev,
            "{}: {} sectors, {} hardware queue(s) of {} tags{}\n",
            &*name,
            data.sectors,
            data.nqueues,
            data.depth,
            if data.read_only { ", read-only" } else { "" }
        );
        *data.ctl.disk.lock() = Some(disk);
        Ok(())
    }

    fn config_changed(data: &BlkData) {
        // Hardirq context: the capacity is read and applied in process
        // context. An already queued work covers this change too.
        let _ = workqueue::system().enqueue(data.ctl.clone());
    }

    fn queue_interrupt(data: &BlkData, queue: u16) {
        let blk = &data.blk;
        let Some(q) = blk.queue(u32::from(queue)) else {
            return;
        };
        // Completing takes no lock of ours, so the whole drain can run
        // under the queue's lock.
        let r = q.drain_locked(|rq, _len| rq.complete());
        if r.is_err() {
            // The device broke the ring rules; the queue failed it. Its
            // requests time out and are failed by the timeout handler.
            blk.dead.store(1, Relaxed);
        }
    }

    fn remove(data: &BlkData) {
        kext::workqueue::cancel_sync(&data.ctl.work);
        let Some(disk) = data.ctl.disk.lock().take() else {
            return;
        };
        disk.mark_dead();
        // Stop the device and fail what it still holds, so removing the
        // disk does not wait for a device that is gone.
        data.blk.fail_all(disk.handle());
        drop(disk);
    }
}

impl Drop for BlkData {
    fn drop(&mut self) {
        // The interrupts are freed by now, so nothing queues the work again;
        // it must not run after the module is gone.
        kext::workqueue::cancel_sync(&self.ctl.work);
    }
}

#[kunit_tests(rvirtio_blk)]
mod tests {
    use super::*;

    /// Device status bytes map to block statuses; unknown ones are errors.
    #[test]
    fn status_mapping() {
        assert_eq!(blk_status(S_OK), status::OK);
        assert_eq!(blk_status(S_IOERR), status::IOERR);
        assert_eq!(blk_status(S_UNSUPP), status::NOTSUPP);
        assert_eq!(blk_status(3), status::IOERR);
        assert_eq!(blk_status(0xff), status::IOERR);
    }

    /// Operations become the right request types and sectors.
    #[test]
    fn request_building() {
        assert!(request_type(Op::Read, 8, true) == Some((T_IN, 8)));
        assert!(request_type(Op::Write, 16, false) == Some((T_OUT, 16)));
        assert!(request_type(Op::Flush, 99, true) == Some((T_FLUSH, 0)));
        assert!(request_type(Op::Flush, 99, false).is_none());
        assert!(request_type(Op::Discard, 0, true).is_none());
    }

    /// Limits: defaults, topology, and refusal of impossible values.
    #[test]
    fn limits_from_config() {
        let base = Config {
            capacity: 1 << 20,
            size_max: 0,
            seg_max: 0,
            blk_size: 0,
            physical_block_exp: 0,
            alignment_offset: 0,
            min_io_size: 0,
            opt_io_size: 0,
            num_queues: 1,
        };
        let l = limits(&base);
        assert!(l.is_ok_and(|l| l.logical_block_size == 512 && l.max_segments == MAX_SEGMENTS));
        let t = Config {
            blk_size: 4096,
            physical_block_exp: 1,
            min_io_size: 2,
            opt_io_size: 8,
            seg_max: 1000,
            ..base
        };
        assert!(limits(&t).is_ok_and(|l| l.physical_block_size == 8192
            && l.io_min == 8192
            && l.io_opt == 32768
            && l.max_segments == MAX_SEGMENTS));
        assert!(limits(&Config {
            blk_size: 100,
            ..base
        })
        .is_err());
        assert!(limits(&Config {
            blk_size: 1 << 20,
            ..base
        })
        .is_err());
        assert!(limits(&Config {
            physical_block_exp: 40,
            ..base
        })
        .is_err());
    }
}
