// SPDX-License-Identifier: GPL-2.0

//! rvirtio_blk: the virtio block device (virtio 1.4 §5.2) on blk-mq.
//!
//! One hardware queue per virtqueue (`VIRTIO_BLK_F_MQ`, capped by the CPUs
//! and the `queues` parameter); the queue depth follows the ring size. A
//! request becomes a descriptor chain of the 16-byte header, the data
//! segments (mapped as the negotiated features say: with the DMA API when
//! `VIRTIO_F_ACCESS_PLATFORM` is negotiated, else by physical address;
//! honouring `seg_max`, `size_max` and the DMA layer's largest mapping)
//! and the status byte last; it completes from the interrupt, and the
//! device status maps to a block status (`VIRTIO_BLK_S_IOERR` to
//! `BLK_STS_IOERR`, `VIRTIO_BLK_S_UNSUPP` to `BLK_STS_NOTSUPP`, anything
//! else the device writes to `BLK_STS_IOERR`). A full ring returns
//! `BLK_STS_RESOURCE`, and blk-mq runs the queue again.
//!
//! A request that times out (the `timeout_ms` parameter) makes the driver
//! look at its own state and the device's: if the driver failed the device
//! (protocol violations, a broken ring), or the device is failed, asked for
//! a reset, or lost DRIVER_OK, or the request has timed out
//! `timeout_rearms + 1` times on a device that looks live, the driver
//! stops the device (reset, else its DMA cut off), fails every outstanding
//! request with an I/O error and fails all new ones, instead of hanging.
//! Removal (including surprise removal) does the same before the disk goes
//! away. A device that neither resets nor can have its DMA stopped keeps
//! its requests and their memory: they are never ended, and removal leaks
//! the disk (see [`Blk::fail_all`]).
//!
//! C version of this driver: `drivers/block/virtio_blk.c`.

use kernel::{
    device::{
        Bound,
        Device, //
    },
    impl_has_work, new_work,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        Mutex, //
    },
    workqueue::{
        self,
        Work,
        WorkItem, //
    },
};

#[path = "../../rust/virtio/mod.rs"]
pub mod virtio;

#[path = "../../rust/kext/mod.rs"]
pub mod kext;

#[path = "../../rust/kvirtio/mod.rs"]
pub mod kvirtio;

#[path = "../../rust/kext/blk/mod.rs"]
pub mod blk;

use blk::{
    Disk,
    DiskRef,
    Elements,
    Geometry,
    Limits,
    Op,
    Request,
    Status,
    Timeout, //
};
use kext::{
    dma::DmaDevice,
    ida::Ida, //
};
use kvirtio::{
    config::DeviceConfig,
    driver::{
        Driver,
        Setup, //
    },
    queue::{
        Queue,
        QueueSpec, //
    },
    status::DeviceStatus,
};
use virtio::{
    blk::{
        encode_ranges,
        limits,
        on_timeout,
        ranges_bytes,
        request_type,
        serial_from_id,
        wire::{
            config as cfg,
            feature as f,
            FLAG_UNMAP,
            ID_BYTES,
            MAX_RANGES, //
        },
        Answer,
        Caps,
        Config,
        TimeoutState,
        TimeoutVerdict,
        MAX_SEGMENTS, //
    },
    config::ConfigReader,
    features::{
        DriverFeatures,
        Feature,
        Features, //
    },
    init::Stopped,
    spec::DeviceId,
};

#[path = "rvirtio_blk/mod.rs"]
pub mod proto;

use proto::{
    completion::{
        completion_status,
        Violations, //
    },
    names::DiskName,
};

crate::module_virtio_driver! {
    type: RvirtioBlk,
    name: "rvirtio_blk",
    authors: ["rvirtio developers"],
    description: "virtio block device, in Rust",
    license: "GPL",
    // And `prefix` (a string, defined by the shim, rust/helpers/blk.c): the
    // disk name prefix, `vd` by default.
    params: {
        queues: u32 {
            default: 0,
            description: "Most hardware queues (0: one per CPU, as many as the device has)",
        },
        timeout_ms: u32 {
            default: 30000,
            description: "Request timeout in milliseconds, after which the device is checked",
        },
        timeout_rearms: u32 {
            default: 9,
            description: "Times a request's timeout is re-armed on a live device before the request is failed and the device reset (default 9: 5 minutes with the default timeout_ms)",
        },
        force_legacy: u32 {
            default: 0,
            description: "Use the legacy interface of transitional devices (0: modern first)",
        },
    },
}

/// Header and status.
const EXTRA: usize = 2;

/// The driver.
pub struct RvirtioBlk;

/// One device.
#[pin_data]
pub struct Blk {
    queues: KVec<Arc<Queue<Request>>>,
    status: Arc<DeviceStatus>,
    config: Arc<DeviceConfig>,
    /// The device is still bound: its configuration space may be accessed.
    /// Held across every access from user space (sysfs, ioctl), which can
    /// come after removal through an open disk.
    #[pin]
    present: Mutex<bool>,
    /// `VIRTIO_BLK_F_GEOMETRY`.
    geometry: bool,
    caps: Caps,
    /// `VIRTIO_BLK_F_CONFIG_WCE`: the cache mode can be switched.
    config_wce: bool,
    /// Most ranges per discard request (the queue limit).
    discard_ranges: u32,
    /// The used length is trusted (modern device; spec §2.7.8.2 says to
    /// ignore it for legacy block devices).
    check_len: bool,
    /// Requests the device answered in breach of the protocol.
    violations: Violations,
    /// The device was failed or removed: every request fails.
    dead: Atomic<i32>,
    /// The device did not stop and still holds requests whose memory it
    /// may use ([`Blk::fail_all`]): they are not ended, and removal leaks
    /// the disk.
    leaked: Atomic<i32>,
}

impl Blk {
    fn queue(&self, hctx: u32) -> Option<&Arc<Queue<Request>>> {
        self.queues.get(hctx as usize)
    }

    /// Stops the device and fails everything it holds; returns whether it
    /// could.
    ///
    /// The requests are ended only once the device is stopped: reset, or
    /// when it does not come out of reset, its DMA cut off by the transport
    /// (PCI: bus mastering off). Otherwise (virtio-mmio has no such switch)
    /// the device may still read and write their memory: the PDU with the
    /// header and status byte, which blk-mq reuses for the next request of
    /// the tag, and the data pages, which belong to the bio's owner (a page
    /// cache page, a user buffer of direct I/O). Ending them would hand
    /// that memory back while the device can still write into it, so they
    /// are deliberately left with the device: never ended, their waiters
    /// never woken, and the disk is leaked at removal (its deletion would
    /// wait for them forever). The rule: a request's memory is handed back
    /// only after the device is known not to use it.
    fn fail_all(&self, disk: DiskRef<'_>) -> bool {
        self.dead.store(1, Relaxed);
        self.status.fail();
        let stopped = self.status.stop();
        if !stopped.may_reclaim() {
            if self.leaked.xchg(1, Relaxed) == 0 {
                pr_err!(
                    "the device does not reset and its DMA cannot be stopped: the requests it holds are not ended and their memory stays with it (leaked)\n"
                );
            }
            return false;
        }
        if stopped == Stopped::DmaOff {
            pr_err!("the device does not reset: its DMA is stopped, failing its requests\n");
        }
        self.leaked.store(0, Relaxed);
        for q in self.queues.iter() {
            while let Some(mut rq) = q.detach_unused() {
                disk.unmap(&mut rq);
                rq.end(Status::IoError);
            }
        }
        true
    }
}

impl blk::Operations for Blk {
    // Inlined into the shim's callback (one call less per request), as is
    // `complete`.
    #[inline]
    fn queue_rq(
        &self,
        disk: DiskRef<'_>,
        hctx: u32,
        mut rq: Request,
        last: bool,
    ) -> Result<(), (Status, Request)> {
        if self.dead.load(Relaxed) != 0 {
            return Err((Status::IoError, rq));
        }
        let Some(q) = self.queue(hctx) else {
            return Err((Status::IoError, rq));
        };
        let mut el = Elements::new();
        let (out, inb) = match self.prepare(disk, &mut rq, &mut el) {
            Ok(v) => v,
            Err(status) => return Err((status, rq)),
        };
        if let Err((e, mut rq)) = q.add_kick(out, inb, rq, last) {
            disk.unmap(&mut rq);
            let _ = q.kick();
            if e == ENOSPC {
                // The ring is full: blk-mq runs the queue again when a
                // request completes (or after a short delay), so there is
                // no stop/restart race with the completion path.
                return Err((Status::Resource, rq));
            }
            return Err((Status::IoError, rq));
        }
        Ok(())
    }

    /// As the C driver's `virtio_queue_rqs`: every request of the batch is
    /// prepared and added in one hold of the queue's lock, and the device
    /// is notified once at the end. The per-request element arrays live on
    /// the stack, one at a time, so each request is mapped just before it
    /// is added, inside the hold (the C driver maps the whole batch first
    /// into per-request scatterlists). A request that cannot be prepared
    /// goes back to blk-mq unstarted, and `queue_rq` ends or retries it
    /// with its status; one the full ring refuses is unmapped and
    /// requeued, and the rest of the batch goes back unprepared.
    fn queue_rqs(&self, disk: DiskRef<'_>, hctx: u32, rqs: &mut blk::RequestList<'_>) {
        if self.dead.load(Relaxed) != 0 {
            // All go back: `queue_rq` fails them.
            return;
        }
        let Some(q) = self.queue(hctx) else {
            return;
        };
        let mut el = Elements::new();
        let mut batch = q.batch();
        while let Some(mut rq) = rqs.pop() {
            let (out, inb) = match self.prepare(disk, &mut rq, &mut el) {
                Ok(v) => v,
                Err(_) => {
                    rqs.give_back(rq);
                    continue;
                }
            };
            if let Err((e, mut rq)) = batch.add(out, inb, rq) {
                disk.unmap(&mut rq);
                rqs.give_back(rq);
                if e == ENOSPC {
                    break;
                }
            }
        }
        // Ending the batch notifies the device, once.
        drop(batch);
    }

    fn commit_rqs(&self, hctx: u32) {
        if let Some(q) = self.queue(hctx) {
            let _ = q.kick();
        }
    }

    #[inline]
    fn complete(&self, _disk: DiskRef<'_>, rq: Request, answer: Answer) {
        let (status, violation) = completion_status(answer, self.check_len);
        if violation {
            self.violation();
        }
        // Once the driver has failed the device, no answer counts: a
        // request that completes while it is being stopped (QEMU finishes
        // its requests when reset) fails like the others.
        let status = if self.dead.load(Relaxed) != 0 {
            Status::IoError
        } else {
            status
        };
        rq.end(status);
    }

    /// The driver's own state first (a device that ignores the FAILED
    /// write keeps DRIVER_OK), then the device's, then the bound on
    /// re-arming for a device that looks live but does not answer
    /// ([`on_timeout`]).
    fn timeout(&self, disk: DiskRef<'_>, rq: &Request) -> Timeout {
        let state = TimeoutState {
            driver_failed: self.dead.load(Relaxed) != 0,
            device_broken: self.status.is_broken(),
            device_live: self.status.is_live(),
            timeouts: rq.timeouts(),
        };
        let rearms = *module_parameters::timeout_rearms.value();
        match on_timeout(state, rearms) {
            TimeoutVerdict::Wait => return Timeout::ResetTimer,
            TimeoutVerdict::DriverFailed => {
                pr_err!("request timed out on a device the driver failed: failing it\n")
            }
            TimeoutVerdict::DeviceBroken | TimeoutVerdict::NotLive => {
                pr_err!("request timed out and the device is not live: failing it\n")
            }
            TimeoutVerdict::NoAnswer => pr_err!(
                "request unanswered after {} timeouts on a live device: resetting it and failing its requests\n",
                state.timeouts
            ),
        }
        // The timed-out request is among those failed here (unless the
        // device cannot be stopped: then blk-mq leaves it with the driver).
        self.fail_all(disk);
        Timeout::Done
    }

    /// GET_ID through the queue. A device that does not support it (or
    /// fails it) shows an empty serial, as with the C driver.
    fn serial(&self, disk: DiskRef<'_>, buf: &mut [u8]) -> Result<usize> {
        let mut id = [0u8; ID_BYTES];
        match disk.drv_in(&mut id) {
            Ok(()) => {}
            Err(e) if e == EIO || blk::is_not_supported(e) => return Ok(0),
            Err(e) => return Err(e),
        }
        let Ok(s) = serial_from_id(&id) else {
            pr_warn!("the device sent an ID that is not printable ASCII: not shown\n");
            return Ok(0);
        };
        let dst = buf.get_mut(..s.len()).ok_or(EINVAL)?;
        dst.copy_from_slice(s);
        Ok(s.len())
    }

    fn write_cache(&self) -> Result<bool> {
        self.cache_mode()
    }

    fn set_write_cache(&self, write_back: bool) -> Result<bool> {
        if !self.config_wce {
            return Err(EPERM);
        }
        self.with_config(|c| c.write_u8(cfg::WRITEBACK, u8::from(write_back)))?;
        // What the device now says; flushes are sent only with FLUSH.
        Ok(self.cache_mode()? && self.caps.flush)
    }

    /// The device's geometry with `VIRTIO_BLK_F_GEOMETRY`, else one made up
    /// from the capacity.
    fn geometry(&self, capacity: u64) -> Result<Geometry> {
        if !self.geometry {
            return Ok(Geometry::for_capacity(capacity));
        }
        self.with_config(|c| {
            Ok(Geometry {
                cylinders: c.read_u16(cfg::CYLINDERS)?,
                heads: c.read_u8(cfg::HEADS)?,
                sectors: c.read_u8(cfg::SECTORS)?,
            })
        })
    }

    fn write_cache_switchable(&self) -> bool {
        self.config_wce
    }
}

impl Blk {
    /// Counts a protocol violation; on the `MAX_VIOLATIONS`th the device is
    /// failed: no new request goes to it, and the timeout handler (which
    /// sees it failed) resets it and ends what it still holds. This runs in
    /// completion context, maybe under the queue's lock, so it does not
    /// reset or drain here.
    fn violation(&self) {
        let (n, fail) = self.violations.record();
        if n <= 3 {
            pr_warn!("the device answered a request with a bad status or length\n");
        }
        if fail {
            pr_err!("{} protocol violations: failing the device\n", n);
            self.dead.store(1, Relaxed);
            self.status.fail();
        }
    }

    /// The device's cache mode: `writeback` with CONFIG_WCE (any value but
    /// 0 is write back: flushing too often is safe, too rarely is not),
    /// else write back exactly when FLUSH was negotiated (§5.2.5).
    fn cache_mode(&self) -> Result<bool> {
        if self.config_wce {
            return Ok(self.with_config(|c| c.read_u8(cfg::WRITEBACK))? != 0);
        }
        Ok(self.caps.flush)
    }

    /// Runs `f` on the configuration space unless the device is gone
    /// (`ENXIO`, as the C driver answers).
    fn with_config<R>(&self, f: impl FnOnce(&DeviceConfig) -> Result<R>) -> Result<R> {
        let present = self.present.lock();
        if !*present {
            return Err(ENXIO);
        }
        f(&self.config)
    }

    /// Makes `rq` ready for the ring: its header and payload in its wire
    /// area, mapped for the device into `el`, started. Returns the
    /// device-readable and device-writable elements, or the status to end
    /// it with (not started: [`Status::Resource`] when the DMA layer is out
    /// of mappings for now, which blk-mq retries). Inlined into both
    /// `queue_rq` and `queue_rqs`.
    #[inline(always)]
    fn prepare<'e>(
        &self,
        disk: DiskRef<'_>,
        rq: &mut Request,
        el: &'e mut Elements<{ MAX_SEGMENTS as usize + EXTRA }>,
    ) -> Result<(&'e [virtio::queue::Buf], &'e [virtio::queue::Buf]), Status> {
        let op = rq.op();
        let Some((ty, sector)) = request_type(op, rq.pos(), self.caps) else {
            return Err(Status::NotSupported);
        };
        // Reads, writes and flushes carry no driver-built payload: no call.
        let payload = match op {
            Op::Discard | Op::WriteZeroes | Op::DrvIn => {
                self.payload(op, rq).map_err(|_| Status::IoError)?
            }
            _ => 0,
        };
        rq.wire_mut().prepare(ty, sector);
        // Mapping starts the request, as the C driver starts it once mapped:
        // a request that goes back to blk-mq unmapped was never started.
        match disk.map(rq, payload, el) {
            Ok(v) => Ok(v),
            // Out of DMA mappings for now: blk-mq retries.
            Err(e) if e == ENOMEM => Err(Status::Resource),
            Err(_) => Err(Status::IoError),
        }
    }

    /// Builds the payload of a discard or write-zeroes request (its ranges,
    /// in the request's wire area) and returns its length; 0 for requests
    /// that carry their own data. Checks that a GET_ID read is exactly the
    /// 20 bytes of an ID.
    fn payload(&self, op: Op, rq: &mut Request) -> Result<usize> {
        // CAST: at most `MAX_RANGES` (the queue limit).
        let max = self.discard_ranges as usize;
        let n = match op {
            Op::Discard if self.discard_ranges > 1 => {
                // One range per bio: the block layer merged them up to the
                // `max_discard_segments` limit.
                let mut ranges = [(0u64, 0u32); MAX_RANGES];
                let mut n = 0usize;
                for (r, b) in ranges.iter_mut().zip(rq.bios()) {
                    *r = b;
                    // At most `MAX_RANGES`: never saturates.
                    n = n.saturating_add(1);
                }
                if rq.bios().count() > n {
                    return Err(EINVAL);
                }
                let list = ranges.get(..n).ok_or(EINVAL)?;
                encode_ranges(&mut rq.wire_mut().ranges, list.iter().copied(), 0, max)
            }
            Op::Discard => {
                let r = (rq.pos(), rq.bytes());
                encode_ranges(&mut rq.wire_mut().ranges, core::iter::once(r), 0, 1)
            }
            Op::WriteZeroes => {
                let flags = if rq.nounmap() { 0 } else { FLAG_UNMAP };
                let r = (rq.pos(), rq.bytes());
                encode_ranges(&mut rq.wire_mut().ranges, core::iter::once(r), flags, 1)
            }
            Op::DrvIn if rq.bytes() as usize != ID_BYTES => return Err(EINVAL),
            _ => return Ok(0),
        };
        Ok(ranges_bytes(n.map_err(|_| EINVAL)?))
    }
}

/// A disk and the name it holds; the disk goes first (field order), so the
/// name is free again only once the disk is deleted.
pub struct NamedDisk {
    disk: Disk<Blk>,
    _name: DiskName,
}

/// The disk, and the work that follows capacity changes.
#[pin_data]
pub struct Control {
    #[pin]
    disk: Mutex<Option<NamedDisk>>,
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
        if let Some(d) = this.disk.lock().as_ref() {
            pr_info!("capacity changed: {} sectors\n", sectors);
            d.disk.set_capacity(sectors);
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
    /// Interrupt vector of queue 0, for mapping CPUs to queues.
    irq_offset: Option<u32>,
    /// The device as its requests are mapped for it.
    dma: DmaDevice,
}

fn read_config(setup: &mut Setup<'_>) -> Result<Config> {
    let has = |f: Feature| setup.has_feature(f);
    let (size_max, seg_max, blk_size, topo, mq) = (
        has(f::SIZE_MAX),
        has(f::SEG_MAX),
        has(f::BLK_SIZE),
        has(f::TOPOLOGY),
        has(f::MQ),
    );
    let (discard, write_zeroes) = (has(f::DISCARD), has(f::WRITE_ZEROES));
    setup.read_config(|r| {
        // A field exists only with its feature (§5.2.4); else 0.
        let u8_if =
            |r: &mut ConfigReader<'_, _>, on: bool, at| if on { r.read_u8(at) } else { Ok(0) };
        let u16_if =
            |r: &mut ConfigReader<'_, _>, on: bool, at| if on { r.read_u16(at) } else { Ok(0) };
        let u32_if =
            |r: &mut ConfigReader<'_, _>, on: bool, at| if on { r.read_u32(at) } else { Ok(0) };
        Ok(Config {
            capacity: r.read_u64(cfg::CAPACITY)?,
            size_max: u32_if(r, size_max, cfg::SIZE_MAX)?,
            seg_max: u32_if(r, seg_max, cfg::SEG_MAX)?,
            blk_size: u32_if(r, blk_size, cfg::BLK_SIZE)?,
            physical_block_exp: u8_if(r, topo, cfg::PHYSICAL_BLOCK_EXP)?,
            alignment_offset: u8_if(r, topo, cfg::ALIGNMENT_OFFSET)?,
            min_io_size: u16_if(r, topo, cfg::MIN_IO_SIZE)?,
            opt_io_size: u32_if(r, topo, cfg::OPT_IO_SIZE)?,
            num_queues: if mq { r.read_u16(cfg::NUM_QUEUES)? } else { 1 },
            max_discard_sectors: u32_if(r, discard, cfg::MAX_DISCARD_SECTORS)?,
            max_discard_seg: u32_if(r, discard, cfg::MAX_DISCARD_SEG)?,
            discard_sector_alignment: u32_if(r, discard, cfg::DISCARD_SECTOR_ALIGNMENT)?,
            max_write_zeroes_sectors: u32_if(r, write_zeroes, cfg::MAX_WRITE_ZEROES_SECTORS)?,
        })
    })
}

impl Driver for RvirtioBlk {
    const DEVICE_ID: DeviceId = DeviceId::BLOCK;
    const NAME: &'static CStr = c"rvirtio_blk";
    const FEATURES: DriverFeatures<'static> = DriverFeatures::new(
        Features::single(f::SIZE_MAX)
            .with(f::SEG_MAX)
            .with(f::GEOMETRY)
            .with(f::RO)
            .with(f::BLK_SIZE)
            .with(f::FLUSH)
            .with(f::TOPOLOGY)
            .with(f::CONFIG_WCE)
            .with(f::MQ)
            .with(f::DISCARD)
            .with(f::WRITE_ZEROES),
    );
    type Data = BlkData;

    fn force_legacy() -> bool {
        *module_parameters::force_legacy.value() != 0
    }

    fn probe(setup: &mut Setup<'_>) -> Result<BlkData> {
        let c = read_config(setup)?;
        let caps = Caps {
            flush: setup.has_feature(f::FLUSH),
            discard: setup.has_feature(f::DISCARD),
            write_zeroes: setup.has_feature(f::WRITE_ZEROES),
        };
        let config_wce = setup.has_feature(f::CONFIG_WCE);
        let mut limits = limits(&c, caps).map_err(|e| {
            pr_err!("invalid configuration: {:?}\n", e);
            EINVAL
        })?;
        // Segments no larger than the DMA layer maps (swiotlb), and no
        // IOMMU merge beyond the largest segment (`size_max`).
        limits
            .bound_segments(setup.max_dma_segment())
            .map_err(|e| {
                pr_err!("cannot map the block layer's segments: {:?}\n", e);
                EINVAL
            })?;
        setup.set_max_dma_segment(limits.max_segment_size)?;
        let read_only = setup.has_feature(f::RO);
        let cap = match *module_parameters::queues.value() {
            0 => kext::nr_cpu_ids(),
            n => n,
        };
        let nqueues = u32::from(c.num_queues.max(1)).min(cap).max(1);
        let spec = QueueSpec {
            max_indirect: u16::try_from(limits.max_segments.saturating_add(EXTRA as u32))
                .unwrap_or(66),
            ..QueueSpec::new(256)
        };
        let mut specs = KVec::with_capacity(nqueues as usize, GFP_KERNEL)?;
        for _ in 0..nqueues {
            specs.push(spec, GFP_KERNEL)?;
        }
        let queues = setup.find_queues::<Request>(&specs)?;
        let depth = u32::from(queues.first().map_or(0, |q| q.size()));
        let irq_offset = setup.queue_vector_offset();
        let config = setup.device_config()?;
        let ctl_config = config.clone();
        let ctl = Arc::pin_init(
            pin_init!(Control {
                disk <- kernel::new_mutex!(None),
                config: ctl_config,
                work <- new_work!("rvirtio_blk::config"),
            }),
            GFP_KERNEL,
        )?;
        let status = setup.device_status()?;
        let geometry = setup.has_feature(f::GEOMETRY);
        let check_len = setup.has_feature(Feature::VERSION_1);
        let discard_ranges = limits.max_discard_segments;
        let blk = Arc::pin_init(
            pin_init!(Blk {
                queues,
                status,
                config,
                present <- kernel::new_mutex!(true),
                geometry,
                caps,
                config_wce,
                discard_ranges,
                check_len,
                violations: Violations::new(),
                dead: Atomic::new(0),
                leaked: Atomic::new(0),
            }),
            GFP_KERNEL,
        )?;
        // The volatile cache is on as the device says (read after
        // FEATURES_OK); flushes can only be sent with FLUSH.
        limits.write_cache = caps.flush && blk.cache_mode()?;
        Ok(BlkData {
            blk,
            ctl,
            sectors: c.capacity,
            read_only,
            limits,
            nqueues,
            depth,
            irq_offset,
            dma: setup.dma(),
        })
    }

    fn ready(data: &BlkData, dev: &Device<Bound>) -> Result {
        let timeout = *module_parameters::timeout_ms.value();
        let mut disk = Disk::new(
            &data.dma,
            data.nqueues,
            data.depth,
            timeout.max(100),
            &data.limits,
            data.blk.clone(),
            data.irq_offset,
        )?;
        let name = DiskName::alloc(Ida::module(), blk::name_prefix())?;
        disk.add(dev, name.as_cstr(), data.sectors, data.read_only)?;
        dev_info!(
            dev,
            "{}: {} sectors, {} hardware queue(s) of {} tags{}\n",
            name.as_cstr().to_str().unwrap_or("?"),
            data.sectors,
            data.nqueues,
            data.depth,
            if data.read_only { ", read-only" } else { "" }
        );
        *data.ctl.disk.lock() = Some(NamedDisk { disk, _name: name });
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
        let r = q.drain_locked(|rq, len| rq.complete(len));
        if r.is_err() {
            // The device broke the ring rules; the queue failed it. Its
            // requests time out and are failed by the timeout handler.
            blk.dead.store(1, Relaxed);
        }
    }

    fn remove(data: &BlkData) {
        // An open disk outlives the device: no configuration access after
        // this (the BAR may go to another device).
        *data.blk.present.lock() = false;
        kext::workqueue::cancel_sync(&data.ctl.work);
        let Some(d) = data.ctl.disk.lock().take() else {
            return;
        };
        d.disk.mark_dead();
        // Stop the device and fail what it still holds, so removing the
        // disk does not wait for a device that is gone.
        if !data.blk.fail_all(d.disk.handle()) {
            // Requests are still with a device that may use their memory:
            // they never end, so the disk cannot be deleted.
            pr_err!("the device holds requests and did not stop: leaking its disk, the module stays loaded\n");
            let NamedDisk { disk, _name: name } = d;
            core::mem::forget(name);
            disk.leak();
            return;
        }
        // The disk is deleted, then its name freed for the next disk.
        drop(d);
    }
}

impl Drop for BlkData {
    fn drop(&mut self) {
        // The interrupts are freed by now, so nothing queues the work again;
        // it must not run after the module is gone.
        kext::workqueue::cancel_sync(&self.ctl.work);
    }
}
