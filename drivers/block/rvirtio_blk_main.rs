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

use blk::{status, Disk, DiskRef, Elements, Geometry, Limits, Op, Request, Timeout, Unmapped};
use kvirtio::{
    config::DeviceConfig,
    driver::{Driver, Setup},
    queue::{Queue, QueueSpec},
    status::DeviceStatus,
};
use virtio::{
    config::ConfigReader,
    features::{DriverFeatures, Feature, Features},
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
    pub(crate) const CONFIG_WCE: u8 = 11;
    pub(crate) const MQ: u8 = 12;
    pub(crate) const DISCARD: u8 = 13;
    pub(crate) const WRITE_ZEROES: u8 = 14;
}

/// Offsets in `struct virtio_blk_config` (§5.2.4).
mod cfg {
    pub(crate) const CAPACITY: usize = 0;
    pub(crate) const SIZE_MAX: usize = 8;
    pub(crate) const SEG_MAX: usize = 12;
    pub(crate) const CYLINDERS: usize = 16;
    pub(crate) const HEADS: usize = 18;
    pub(crate) const SECTORS: usize = 19;
    pub(crate) const BLK_SIZE: usize = 20;
    pub(crate) const PHYSICAL_BLOCK_EXP: usize = 24;
    pub(crate) const ALIGNMENT_OFFSET: usize = 25;
    pub(crate) const MIN_IO_SIZE: usize = 26;
    pub(crate) const OPT_IO_SIZE: usize = 28;
    pub(crate) const WRITEBACK: usize = 32;
    pub(crate) const NUM_QUEUES: usize = 34;
    pub(crate) const MAX_DISCARD_SECTORS: usize = 36;
    pub(crate) const MAX_DISCARD_SEG: usize = 40;
    pub(crate) const DISCARD_SECTOR_ALIGNMENT: usize = 44;
    pub(crate) const MAX_WRITE_ZEROES_SECTORS: usize = 48;
}

/// Request types (§5.2.6).
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;
const T_DISCARD: u32 = 11;
const T_WRITE_ZEROES: u32 = 13;

/// `VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP`: the device may deallocate.
const FLAG_UNMAP: u32 = 1;
/// Size of a `struct virtio_blk_discard_write_zeroes` range.
const RANGE_SIZE: usize = 16;
/// Most ranges in one discard request: they fit the request's payload
/// buffer (256 bytes in the shim's per-request data).
const MAX_RANGES: u32 = 16;
/// Length of the GET_ID answer (§5.2.6).
const ID_BYTES: usize = 20;

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

/// The block status of a completed request, and whether the device broke
/// the protocol with it: a status byte it must not write, or (when the
/// length can be trusted: `check_len`, a modern device) success with fewer
/// bytes written than the request's data and status (a short read that
/// claims success would hand stale memory to the reader). A length above
/// the writable bytes never gets here: the ring rejects it.
pub fn completion_status(a: Unmapped, check_len: bool) -> (u32, bool) {
    match a.status {
        S_OK if check_len && a.used_len != a.in_len => (status::IOERR, true),
        S_OK | S_IOERR | S_UNSUPP => (blk_status(a.status), false),
        _ => (status::IOERR, true),
    }
}

/// Protocol violations (see [`completion_status`]) after which the device is
/// failed.
const MAX_VIOLATIONS: u32 = 8;

/// Counts a device's protocol violations.
pub struct Violations(Atomic<u32>);

impl Default for Violations {
    fn default() -> Self {
        Self::new()
    }
}

impl Violations {
    /// No violations yet.
    pub const fn new() -> Self {
        Self(Atomic::new(0))
    }

    /// Records one; returns how many there have been, and whether this one
    /// is the `MAX_VIOLATIONS`th (fail the device now; exactly once).
    pub fn record(&self) -> (u32, bool) {
        let n = self.0.fetch_add(1, Relaxed).saturating_add(1);
        (n, n == MAX_VIOLATIONS)
    }
}

/// What the negotiated features let the driver send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    /// `VIRTIO_BLK_F_FLUSH`.
    pub flush: bool,
    /// `VIRTIO_BLK_F_DISCARD`.
    pub discard: bool,
    /// `VIRTIO_BLK_F_WRITE_ZEROES`.
    pub write_zeroes: bool,
}

/// The virtio-blk request type and header sector of a block operation, or
/// `None` for one the device cannot do. Flush, discard, write zeroes and
/// GET_ID (the driver-private read) carry sector 0 in the header.
pub fn request_type(op: Op, pos: u64, caps: Caps) -> Option<(u32, u64)> {
    match op {
        Op::Read => Some((T_IN, pos)),
        Op::Write => Some((T_OUT, pos)),
        Op::Flush if caps.flush => Some((T_FLUSH, 0)),
        Op::Discard if caps.discard => Some((T_DISCARD, 0)),
        Op::WriteZeroes if caps.write_zeroes => Some((T_WRITE_ZEROES, 0)),
        Op::DrvIn => Some((T_GET_ID, 0)),
        _ => None,
    }
}

/// Writes `struct virtio_blk_discard_write_zeroes` ranges (sector,
/// num_sectors, flags; little-endian) into `buf`, one per (first sector,
/// bytes) in `ranges`, at most `max` of them. Returns the bytes written.
/// Refuses an empty list, too many ranges, and sizes that are not whole
/// sectors or do not fit a range.
pub fn encode_ranges(
    buf: &mut [u8],
    ranges: impl Iterator<Item = (u64, u32)>,
    flags: u32,
    max: u32,
) -> Result<usize> {
    let mut n = 0usize;
    for (sector, bytes) in ranges {
        if n >= max as usize || bytes % 512 != 0 || bytes == 0 {
            return Err(EINVAL);
        }
        let at = n * RANGE_SIZE;
        let dst = buf.get_mut(at..at + RANGE_SIZE).ok_or(EINVAL)?;
        let (s, rest) = dst.split_at_mut(8);
        let (num, fl) = rest.split_at_mut(4);
        s.copy_from_slice(&sector.to_le_bytes());
        num.copy_from_slice(&(bytes / 512).to_le_bytes());
        fl.copy_from_slice(&flags.to_le_bytes());
        n += 1;
    }
    if n == 0 {
        return Err(EINVAL);
    }
    Ok(n * RANGE_SIZE)
}

/// The serial number in a GET_ID answer: up to the first NUL (none if all
/// 20 bytes are used). A device that sends anything but printable ASCII
/// gets no serial shown (`EIO`), so it cannot inject text into sysfs.
pub fn serial_from_id(id: &[u8]) -> Result<&[u8]> {
    let id = id.get(..ID_BYTES).unwrap_or(id);
    let len = id.iter().position(|&b| b == 0).unwrap_or(id.len());
    let s = id.get(..len).ok_or(EIO)?;
    if s.iter().all(|b| (0x20..0x7f).contains(b)) {
        Ok(s)
    } else {
        Err(EIO)
    }
}

/// Numbers the disks (`rvda`, `rvdb`, ...; the C driver's are `vd*`).
static NEXT_INDEX: Atomic<u32> = Atomic::new(0);

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
        mut rq: Request,
        last: bool,
    ) -> Result<(), (u32, Request)> {
        if self.dead.load(Relaxed) != 0 {
            return Err((status::IOERR, rq));
        }
        let Some(q) = self.queue(hctx) else {
            return Err((status::IOERR, rq));
        };
        let op = rq.op();
        let Some((ty, sector)) = request_type(op, rq.pos(), self.caps) else {
            return Err((status::NOTSUPP, rq));
        };
        let payload = match self.payload(op, &mut rq) {
            Ok(n) => n,
            Err(_) => return Err((status::IOERR, rq)),
        };
        rq.start();
        let mut el = Elements::<{ MAX_SEGMENTS as usize + EXTRA }>::new();
        let (out, inb) = match disk.map(&rq, ty, sector, payload, &mut el) {
            Ok(v) => v,
            // Out of DMA mappings for now: blk-mq retries.
            Err(e) if e == ENOMEM => return Err((status::RESOURCE, rq)),
            Err(_) => return Err((status::IOERR, rq)),
        };
        if let Err((e, rq)) = q.add_kick(out, inb, rq, last) {
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
        Ok(())
    }

    fn commit_rqs(&self, hctx: u32) {
        if let Some(q) = self.queue(hctx) {
            let _ = q.kick();
        }
    }

    fn complete(&self, disk: DiskRef, rq: Request) {
        let (status, violation) = completion_status(disk.unmap(&rq), self.check_len);
        if violation {
            self.violation();
        }
        rq.end(status);
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

    /// GET_ID through the queue. A device that does not support it (or
    /// fails it) shows an empty serial, as with the C driver.
    fn serial(&self, disk: DiskRef, buf: &mut [u8]) -> Result<usize> {
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

    /// Builds the payload of a discard or write-zeroes request (its ranges)
    /// and returns its length; 0 for requests that carry their own data.
    /// Checks that a GET_ID read is exactly the 20 bytes of an ID.
    fn payload(&self, op: Op, rq: &mut Request) -> Result<usize> {
        match op {
            Op::Discard if self.discard_ranges > 1 => {
                // One range per bio: the block layer merged them up to the
                // `max_discard_segments` limit.
                let mut ranges = [(0u64, 0u32); MAX_RANGES as usize];
                let mut n = 0;
                for (r, b) in ranges.iter_mut().zip(rq.bios()) {
                    *r = b;
                    n += 1;
                }
                if rq.bios().count() > n {
                    return Err(EINVAL);
                }
                let list = ranges.get(..n).ok_or(EINVAL)?;
                encode_ranges(
                    rq.payload_mut(),
                    list.iter().copied(),
                    0,
                    self.discard_ranges,
                )
            }
            Op::Discard => {
                let r = (rq.pos(), rq.bytes());
                encode_ranges(rq.payload_mut(), core::iter::once(r), 0, 1)
            }
            Op::WriteZeroes => {
                let flags = if rq.nounmap() { 0 } else { FLAG_UNMAP };
                let r = (rq.pos(), rq.bytes());
                encode_ranges(rq.payload_mut(), core::iter::once(r), flags, 1)
            }
            Op::DrvIn if rq.bytes() as usize != ID_BYTES => Err(EINVAL),
            _ => Ok(0),
        }
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
    /// Interrupt vector of queue 0, for mapping CPUs to queues.
    irq_offset: Option<u32>,
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
    max_discard_sectors: u32,
    max_discard_seg: u32,
    discard_sector_alignment: u32,
    max_write_zeroes_sectors: u32,
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

/// Turns the device's configuration into queue limits, refusing values no
/// real device has (the device is untrusted). Discard and write zeroes are
/// enabled as `caps` says; a limit of 0 from the device means no limit.
fn limits(c: &Config, caps: Caps) -> Result<Limits> {
    let lbs = if c.blk_size == 0 { 512 } else { c.blk_size };
    if !(512..=65536).contains(&lbs) || !lbs.is_power_of_two() {
        pr_err!("invalid block size {}\n", c.blk_size);
        return Err(EINVAL);
    }
    if c.physical_block_exp > 16 {
        pr_err!("invalid physical block exponent {}\n", c.physical_block_exp);
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
    let (max_discard_sectors, max_discard_segments, discard_granularity) = if caps.discard {
        let granularity = match c.discard_sector_alignment {
            0 => lbs,
            n => n.checked_mul(512).ok_or_else(|| {
                pr_err!("invalid discard sector alignment {}\n", n);
                EINVAL
            })?,
        };
        let segs = match c.max_discard_seg {
            0 => MAX_RANGES,
            n => n.min(MAX_RANGES),
        };
        (nonzero_or_max(c.max_discard_sectors), segs, granularity)
    } else {
        (0, 0, 0)
    };
    let max_write_zeroes_sectors = if caps.write_zeroes {
        nonzero_or_max(c.max_write_zeroes_sectors)
    } else {
        0
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
        max_discard_sectors,
        max_discard_segments,
        discard_granularity,
        max_write_zeroes_sectors,
        write_cache: false,
        fua: false,
    })
}

fn nonzero_or_max(v: u32) -> u32 {
    if v == 0 {
        u32::MAX
    } else {
        v
    }
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
            .with(Feature::new(f::CONFIG_WCE))
            .with(Feature::new(f::MQ))
            .with(Feature::new(f::DISCARD))
            .with(Feature::new(f::WRITE_ZEROES)),
    );
    type Data = BlkData;

    fn force_legacy() -> bool {
        *module_parameters::force_legacy.value() != 0
    }

    fn probe(setup: &mut Setup<'_>) -> Result<BlkData> {
        let c = read_config(setup)?;
        let caps = Caps {
            flush: setup.has_feature(Feature::new(f::FLUSH)),
            discard: setup.has_feature(Feature::new(f::DISCARD)),
            write_zeroes: setup.has_feature(Feature::new(f::WRITE_ZEROES)),
        };
        let config_wce = setup.has_feature(Feature::new(f::CONFIG_WCE));
        let mut limits = limits(&c, caps)?;
        let read_only = setup.has_feature(Feature::new(f::RO));
        let cap = match *module_parameters::queues.value() {
            0 => kext::nr_cpu_ids(),
            n => n,
        };
        let nqueues = u32::from(c.num_queues.max(1)).min(cap).max(1);
        let spec = QueueSpec {
            max_indirect: u16::try_from(limits.max_segments + EXTRA as u32).unwrap_or(66),
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
        let geometry = setup.has_feature(Feature::new(f::GEOMETRY));
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
            data.irq_offset,
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

    /// Completions: good answers, and the violations that count.
    #[test]
    fn completion_checks() {
        let ok = Unmapped {
            status: S_OK,
            used_len: 4097,
            in_len: 4097,
        };
        assert!(completion_status(ok, true) == (status::OK, false));
        let short = Unmapped { used_len: 1, ..ok };
        assert!(completion_status(short, true) == (status::IOERR, true));
        // Legacy devices misreport the length: ignored.
        assert!(completion_status(short, false) == (status::OK, false));
        let err = Unmapped {
            status: S_IOERR,
            used_len: 0,
            ..ok
        };
        assert!(completion_status(err, true) == (status::IOERR, false));
        let unsupp = Unmapped {
            status: S_UNSUPP,
            ..err
        };
        assert!(completion_status(unsupp, true) == (status::NOTSUPP, false));
        // Never written (0xff) or made up.
        let never = Unmapped { status: 0xff, ..ok };
        assert!(completion_status(never, true) == (status::IOERR, true));
        let bogus = Unmapped { status: 7, ..ok };
        assert!(completion_status(bogus, false) == (status::IOERR, true));
    }

    /// The made-up geometry of a disk without VIRTIO_BLK_F_GEOMETRY.
    #[test]
    fn default_geometry() {
        let g = Geometry::for_capacity(1 << 20);
        assert!(g.heads == 64 && g.sectors == 32 && g.cylinders == 512);
        assert_eq!(Geometry::for_capacity(u64::MAX).cylinders, u16::MAX);
    }

    /// Repeated violations fail the device once, on the eighth.
    #[test]
    fn repeated_violations() {
        let v = Violations::new();
        for i in 1..MAX_VIOLATIONS {
            assert!(v.record() == (i, false));
        }
        assert!(v.record() == (MAX_VIOLATIONS, true));
        assert!(v.record() == (MAX_VIOLATIONS + 1, false));
    }

    /// Operations become the right request types and sectors, as far as
    /// the negotiated features allow.
    #[test]
    fn request_building() {
        let all = Caps {
            flush: true,
            discard: true,
            write_zeroes: true,
        };
        let none = Caps::default();
        assert!(request_type(Op::Read, 8, none) == Some((T_IN, 8)));
        assert!(request_type(Op::Write, 16, none) == Some((T_OUT, 16)));
        assert!(request_type(Op::Flush, 99, all) == Some((T_FLUSH, 0)));
        assert!(request_type(Op::Flush, 99, none).is_none());
        assert!(request_type(Op::Discard, 64, all) == Some((T_DISCARD, 0)));
        assert!(request_type(Op::Discard, 64, none).is_none());
        assert!(request_type(Op::WriteZeroes, 64, all) == Some((T_WRITE_ZEROES, 0)));
        assert!(request_type(Op::WriteZeroes, 64, none).is_none());
        assert!(request_type(Op::DrvIn, 5, none) == Some((T_GET_ID, 0)));
        assert!(request_type(Op::Other(99), 0, all).is_none());
    }

    /// Discard and write-zeroes ranges: little-endian layout, flags, and
    /// refusal of what the device must not get.
    #[test]
    fn discard_ranges() {
        let mut buf = [0xaau8; 64];
        let r = [(0x0102_0304_0506_0708u64, 4096u32), (9, 512)];
        assert!(encode_ranges(&mut buf, r.iter().copied(), FLAG_UNMAP, 16) == Ok(32));
        assert_eq!(&buf[..8], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&buf[8..12], &[8, 0, 0, 0]);
        assert_eq!(&buf[12..16], &[1, 0, 0, 0]);
        assert_eq!(&buf[16..24], &[9, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&buf[24..28], &[1, 0, 0, 0]);
        assert_eq!(buf[32], 0xaa);
        // More ranges than allowed, or than the buffer holds.
        assert!(encode_ranges(&mut buf, r.iter().copied(), 0, 1).is_err());
        assert!(encode_ranges(&mut buf[..20], r.iter().copied(), 0, 16).is_err());
        // Partial sectors, empty ranges, no ranges.
        assert!(encode_ranges(&mut buf, core::iter::once((0, 100)), 0, 16).is_err());
        assert!(encode_ranges(&mut buf, core::iter::once((0, 0)), 0, 16).is_err());
        assert!(encode_ranges(&mut buf, core::iter::empty(), 0, 16).is_err());
    }

    /// GET_ID answers: NUL-padded, exactly 20 bytes, or hostile.
    #[test]
    fn serial_parsing() {
        let mut id = [0u8; 20];
        id[..5].copy_from_slice(b"disk1");
        assert!(serial_from_id(&id) == Ok(&b"disk1"[..]));
        let full = *b"ABCDEFGHIJKLMNOPQRST";
        assert!(serial_from_id(&full) == Ok(&full[..]));
        assert!(serial_from_id(&[0u8; 20]) == Ok(&b""[..]));
        let mut bad = [0u8; 20];
        bad[..3].copy_from_slice(b"a\nb");
        assert!(serial_from_id(&bad).is_err());
        bad[..3].copy_from_slice(b"a\xffb");
        assert!(serial_from_id(&bad).is_err());
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
            max_discard_sectors: 0,
            max_discard_seg: 0,
            discard_sector_alignment: 0,
            max_write_zeroes_sectors: 0,
        };
        let none = Caps::default();
        let l = limits(&base, none);
        assert!(l.is_ok_and(|l| l.logical_block_size == 512 && l.max_segments == MAX_SEGMENTS));
        let t = Config {
            blk_size: 4096,
            physical_block_exp: 1,
            min_io_size: 2,
            opt_io_size: 8,
            seg_max: 1000,
            ..base
        };
        assert!(limits(&t, none).is_ok_and(|l| l.physical_block_size == 8192
            && l.io_min == 8192
            && l.io_opt == 32768
            && l.max_segments == MAX_SEGMENTS));
        assert!(limits(
            &Config {
                blk_size: 100,
                ..base
            },
            none
        )
        .is_err());
        assert!(limits(
            &Config {
                blk_size: 1 << 20,
                ..base
            },
            none
        )
        .is_err());
        assert!(limits(
            &Config {
                physical_block_exp: 40,
                ..base
            },
            none
        )
        .is_err());
        // Discard and write zeroes: off without the features, device limits
        // (0 means none), ranges capped by the payload.
        assert!(limits(&base, none).is_ok_and(|l| l.max_discard_sectors == 0
            && l.max_discard_segments == 0
            && l.max_write_zeroes_sectors == 0));
        let dz = Caps {
            flush: false,
            discard: true,
            write_zeroes: true,
        };
        assert!(
            limits(&base, dz).is_ok_and(|l| l.max_discard_sectors == u32::MAX
                && l.max_discard_segments == MAX_RANGES
                && l.discard_granularity == 512
                && l.max_write_zeroes_sectors == u32::MAX)
        );
        let d = Config {
            max_discard_sectors: 2048,
            max_discard_seg: 1,
            discard_sector_alignment: 8,
            max_write_zeroes_sectors: 4096,
            ..base
        };
        assert!(limits(&d, dz).is_ok_and(|l| l.max_discard_sectors == 2048
            && l.max_discard_segments == 1
            && l.discard_granularity == 4096
            && l.max_write_zeroes_sectors == 4096));
        assert!(limits(
            &Config {
                max_discard_seg: 1000,
                ..d
            },
            dz
        )
        .is_ok_and(|l| l.max_discard_segments == MAX_RANGES));
        assert!(limits(
            &Config {
                discard_sector_alignment: u32::MAX,
                ..d
            },
            dz
        )
        .is_err());
    }
}
