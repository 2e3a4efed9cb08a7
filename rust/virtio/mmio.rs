// SPDX-License-Identifier: GPL-2.0

//! Virtio over MMIO (virtio 1.4 §4.2), kernel-independent part.
//!
//! - [`reg`]: the register offsets of both versions;
//! - [`identify`]: the header checks (`MagicValue`, `Version`, `DeviceID`);
//! - [`legacy_pfn`]: the version 1 `QueuePFN` and its 32-bit limit;
//! - [`MmioTransport`]: the transport itself, generic over the register
//!   window ([`Registers`]), so the same code runs on an `ioremap()`ed
//!   window in the kernel, on a fake window in KUnit and on the host;
//! - [`cmdline`]: the `<size>@<base>:<irq>[:<id>]` device syntax of the
//!   kernel's `virtio_mmio.device=` parameter.
//!
//! Every value read from the device is untrusted: the header is checked
//! before anything else, `QueueNumMax` 0 means no queue, a maximum above
//! 32768 is clamped, `Status` is taken as its low byte, `InterruptStatus`
//! as its two defined bits.
//!
//! The set-up methods take `&self` (the kernel framework shares the
//! transport in an `Arc` from probe on) but go through selector registers
//! (`DeviceFeaturesSel`, `QueueSel`, `SHMSel`): the caller serialises them,
//! as the driver core serialises probe and removal. The run-time methods
//! (status, configuration, notify, interrupt acknowledge) use no selector.
//!
//! C version: `drivers/virtio/virtio_mmio.c`,
//! `include/uapi/linux/virtio_mmio.h`.

use super::{
    features::{
        Feature,
        Features, //
    },
    queue::{
        NotifyData,
        QueueConfig, //
    },
    spec::{
        DeviceId,
        Status,
        MAX_QUEUE_SIZE, //
    },
    transport::{
        InterruptStatus,
        Transport,
        TransportError,
        TransportKind,
        TransportSetup, //
    },
    wire::ByteOrder,
};
use core::sync::atomic::{
    AtomicBool,
    Ordering, //
};

pub mod cmdline;

/// Register offsets (§4.2.2; version 1 only: §4.2.4).
pub mod reg {
    /// `MagicValue`, R: 0x74726976 ("virt").
    pub const MAGIC_VALUE: usize = 0x000;
    /// `Version`, R: 2 (1 for legacy devices).
    pub const VERSION: usize = 0x004;
    /// `DeviceID`, R: the virtio device type; 0 is a placeholder.
    pub const DEVICE_ID: usize = 0x008;
    /// `VendorID`, R.
    pub const VENDOR_ID: usize = 0x00c;
    /// `DeviceFeatures` (v1: `HostFeatures`), R.
    pub const DEVICE_FEATURES: usize = 0x010;
    /// `DeviceFeaturesSel` (v1: `HostFeaturesSel`), W.
    pub const DEVICE_FEATURES_SEL: usize = 0x014;
    /// `DriverFeatures` (v1: `GuestFeatures`), W.
    pub const DRIVER_FEATURES: usize = 0x020;
    /// `DriverFeaturesSel` (v1: `GuestFeaturesSel`), W.
    pub const DRIVER_FEATURES_SEL: usize = 0x024;
    /// v1 only: `GuestPageSize`, W.
    pub const GUEST_PAGE_SIZE: usize = 0x028;
    /// `QueueSel`, W.
    pub const QUEUE_SEL: usize = 0x030;
    /// `QueueNumMax`, R: 0 if the queue does not exist.
    pub const QUEUE_NUM_MAX: usize = 0x034;
    /// `QueueNum`, W.
    pub const QUEUE_NUM: usize = 0x038;
    /// v1 only: `QueueAlign`, W.
    pub const QUEUE_ALIGN: usize = 0x03c;
    /// v1 only: `QueuePFN`, RW.
    pub const QUEUE_PFN: usize = 0x040;
    /// v2 only: `QueueReady`, RW.
    pub const QUEUE_READY: usize = 0x044;
    /// `QueueNotify`, W.
    pub const QUEUE_NOTIFY: usize = 0x050;
    /// `InterruptStatus`, R.
    pub const INTERRUPT_STATUS: usize = 0x060;
    /// `InterruptACK`, W.
    pub const INTERRUPT_ACK: usize = 0x064;
    /// `Status`, RW.
    pub const STATUS: usize = 0x070;
    /// v2: `QueueDescLow`, W (`QueueDescHigh` at +4).
    pub const QUEUE_DESC_LOW: usize = 0x080;
    /// v2: `QueueDriverLow`, W (`QueueDriverHigh` at +4).
    pub const QUEUE_DRIVER_LOW: usize = 0x090;
    /// v2: `QueueDeviceLow`, W (`QueueDeviceHigh` at +4).
    pub const QUEUE_DEVICE_LOW: usize = 0x0a0;
    /// v2: `SHMSel`, W.
    pub const SHM_SEL: usize = 0x0ac;
    /// v2: `SHMLenLow`, R (`SHMLenHigh` at +4).
    pub const SHM_LEN_LOW: usize = 0x0b0;
    /// v2: `SHMBaseLow`, R (`SHMBaseHigh` at +4).
    pub const SHM_BASE_LOW: usize = 0x0b8;
    /// v2: `QueueReset`, RW (not used: `RING_RESET` is not offered).
    pub const QUEUE_RESET: usize = 0x0c0;
    /// v2: `ConfigGeneration`, R.
    pub const CONFIG_GENERATION: usize = 0x0fc;
    /// The device configuration space starts here.
    pub const CONFIG: usize = 0x100;
}

/// `MagicValue`: "virt" read as a little-endian `u32`.
pub const MAGIC: u32 = 0x7472_6976;

/// The smallest register window: the header up to `ConfigGeneration`.
pub const MIN_WINDOW: usize = reg::CONFIG;

/// The largest window the transport uses (the configuration space is at
/// most 4 KiB minus the header; QEMU's window is 0x200 bytes).
pub const MAX_WINDOW: usize = 0x1000;

/// The `GuestPageSize` written to version 1 devices, which `QueuePFN` is
/// counted in. 4096 on every architecture (the C driver writes
/// `PAGE_SIZE`; any power of two is valid, 4096 keeps the arithmetic the
/// same everywhere).
pub const LEGACY_PAGE_SIZE: u32 = 4096;

/// The `QueueAlign` written to version 1 devices, and the alignment of
/// the used ring in the contiguous legacy layout.
pub const LEGACY_QUEUE_ALIGN: u32 = 4096;

/// Bits of DMA address a version 1 ring can have: a 32-bit page frame
/// number of [`LEGACY_PAGE_SIZE`] pages. The coherent DMA mask of a
/// legacy device (ring memory) is set to this.
pub const LEGACY_DMA_BITS: u32 = 32u32.saturating_add(LEGACY_PAGE_SIZE.trailing_zeros());

/// The interface version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `Version` 1: legacy (contiguous ring at `QueuePFN`).
    Legacy,
    /// `Version` 2: virtio 1.x.
    Modern,
}

impl Version {
    /// The transport kind of this version.
    pub const fn kind(self) -> TransportKind {
        match self {
            Self::Legacy => TransportKind::MmioLegacy,
            Self::Modern => TransportKind::MmioModern,
        }
    }

    /// The `Version` register value.
    pub const fn number(self) -> u32 {
        match self {
            Self::Legacy => 1,
            Self::Modern => 2,
        }
    }
}

/// A valid header: what [`identify`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The interface version.
    pub version: Version,
    /// The device type; [`DeviceId::INVALID`] (0) for a placeholder
    /// transport with no device behind it, which drivers ignore.
    pub device_id: DeviceId,
    /// `VendorID` (informational).
    pub vendor_id: u32,
}

/// Why a header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// `MagicValue` is not 0x74726976: not a virtio-mmio device.
    BadMagic(u32),
    /// `Version` is neither 1 nor 2.
    BadVersion(u32),
    /// The register window is smaller than the header (0x100 bytes).
    WindowTooSmall(usize),
    /// Reading the header failed.
    Transport(TransportError),
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadMagic(m) => write!(
                f,
                "wrong MagicValue {:#010x} (expected {:#010x}): not a virtio-mmio device",
                m, MAGIC
            ),
            Self::BadVersion(v) => write!(
                f,
                "unsupported virtio-mmio Version {} (only 1, legacy, and 2)",
                v
            ),
            Self::WindowTooSmall(l) => write!(
                f,
                "register window of {:#x} bytes is smaller than the {:#x}-byte header",
                l, MIN_WINDOW
            ),
            Self::Transport(e) => write!(f, "reading the header failed: {:?}", e),
        }
    }
}

/// Checks the three identification registers, in the spec's order
/// (§4.2.2.2: a driver MUST ignore a device with a wrong `MagicValue` or
/// `Version`, and a `DeviceID` of 0).
pub fn check_header(magic: u32, version: u32, device_id: u32) -> Result<Header, HeaderError> {
    if magic != MAGIC {
        return Err(HeaderError::BadMagic(magic));
    }
    let version = match version {
        1 => Version::Legacy,
        2 => Version::Modern,
        v => return Err(HeaderError::BadVersion(v)),
    };
    Ok(Header {
        version,
        device_id: DeviceId(device_id),
        vendor_id: 0,
    })
}

/// Reads and checks the header of a register window.
pub fn identify<R: Registers + ?Sized>(regs: &R) -> Result<Header, HeaderError> {
    if regs.len() < MIN_WINDOW {
        return Err(HeaderError::WindowTooSmall(regs.len()));
    }
    let rd = |off| regs.read32(off).map_err(HeaderError::Transport);
    let magic = rd(reg::MAGIC_VALUE)?;
    let version = rd(reg::VERSION)?;
    let device_id = rd(reg::DEVICE_ID)?;
    let mut h = check_header(magic, version, device_id)?;
    h.vendor_id = rd(reg::VENDOR_ID)?;
    Ok(h)
}

/// The version 1 `QueuePFN` of a ring at bus address `addr`: `addr /
/// page_size`.
///
/// Fails with [`TransportError::InvalidQueue`] if `page_size` is not a
/// power of two, `addr` is not page aligned, or the page frame number
/// does not fit the 32-bit register (a ring at or above
/// `2^32 * page_size`, i.e. 16 TiB with 4 KiB pages). 0 is refused too:
/// writing it releases the queue.
pub const fn legacy_pfn(addr: u64, page_size: u32) -> Result<u32, TransportError> {
    if page_size == 0 || !page_size.is_power_of_two() {
        return Err(TransportError::InvalidQueue);
    }
    let shift = page_size.trailing_zeros();
    // CAST: lossless widening.
    if addr & (page_size as u64).wrapping_sub(1) != 0 {
        return Err(TransportError::InvalidQueue);
    }
    let pfn = addr >> shift;
    if pfn == 0 || pfn > u32::MAX as u64 {
        return Err(TransportError::InvalidQueue);
    }
    // CAST: checked to fit above.
    Ok(pfn as u32)
}

/// Access to a virtio-mmio register window.
///
/// The accessors are those of Linux's `readl()`/`writel()` family: the
/// device sees little-endian values, the caller gets CPU values (the
/// control registers are little endian in both versions). An accessor
/// fails for an access outside the window or not naturally aligned.
/// Implementations: the kernel's `ioremap()`ed window
/// (`kext::mmio::IoWindow`), the KUnit fake, the host tests' fake.
pub trait Registers: Sync {
    /// Length of the window in bytes.
    fn len(&self) -> usize;

    /// Whether the window is empty (never, for a usable one).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads the little-endian `u32` at `off`.
    fn read32(&self, off: usize) -> Result<u32, TransportError>;

    /// Writes the little-endian `u32` `value` at `off`.
    fn write32(&self, off: usize, value: u32) -> Result<(), TransportError>;

    /// Reads the little-endian `u16` at `off` (configuration space only).
    fn read16(&self, off: usize) -> Result<u16, TransportError>;

    /// Writes the little-endian `u16` `value` at `off` (configuration
    /// space only).
    fn write16(&self, off: usize, value: u16) -> Result<(), TransportError>;

    /// Reads the byte at `off` (configuration space only).
    fn read8(&self, off: usize) -> Result<u8, TransportError>;

    /// Writes the byte `value` at `off` (configuration space only).
    fn write8(&self, off: usize, value: u8) -> Result<(), TransportError>;

    /// Waits a little between two status polls after a reset. The default
    /// does not wait.
    fn delay(&self) {}
}

/// The offset of the high half of a 64-bit register pair.
fn plus4(off: usize) -> Result<usize, TransportError> {
    off.checked_add(4).ok_or(TransportError::OutOfRange)
}

/// A shared memory region of the device (§2.10, §4.2.2 `SHMSel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShmRegion {
    /// Guest physical address of the region.
    pub base: u64,
    /// Length in bytes (never 0).
    pub len: u64,
}

/// The virtio-mmio transport, version 2 and legacy version 1, over a
/// register window `R`.
///
/// Implements [`Transport`], and [`TransportSetup`] on `&MmioTransport`
/// (the set-up operations are also inherent methods with `&self`; see the
/// [module documentation](self) on serialisation).
pub struct MmioTransport<R: Registers> {
    regs: R,
    header: Header,
    /// `GuestPageSize` was written since the last reset (version 1).
    page_size_written: AtomicBool,
}

impl<R: Registers> MmioTransport<R> {
    /// Checks the header of `regs` and builds the transport. A placeholder
    /// (`DeviceID` 0) is accepted here; the caller decides to ignore it.
    pub fn new(regs: R) -> Result<Self, HeaderError> {
        let header = identify(&regs)?;
        Ok(Self {
            regs,
            header,
            page_size_written: AtomicBool::new(false),
        })
    }

    /// The header found at construction.
    pub fn header(&self) -> Header {
        self.header
    }

    /// The interface version.
    pub fn version(&self) -> Version {
        self.header.version
    }

    /// Whether this is a version 1 (legacy) device.
    pub fn is_legacy(&self) -> bool {
        self.header.version == Version::Legacy
    }

    /// The register window.
    pub fn registers(&self) -> &R {
        &self.regs
    }

    /// Length of the device configuration space that the window covers.
    pub fn config_len(&self) -> usize {
        self.regs.len().saturating_sub(reg::CONFIG)
    }

    fn sel_queue(&self, index: u16) -> Result<(), TransportError> {
        self.regs.write32(reg::QUEUE_SEL, u32::from(index))
    }

    /// Offset in the window of a configuration field of `width` bytes at
    /// `offset`: inside the window and naturally aligned.
    fn config_at(&self, offset: usize, width: usize) -> Result<usize, TransportError> {
        let end = offset
            .checked_add(width)
            .ok_or(TransportError::OutOfRange)?;
        if width == 0 || !offset.is_multiple_of(width) || end > self.config_len() {
            return Err(TransportError::OutOfRange);
        }
        reg::CONFIG
            .checked_add(offset)
            .ok_or(TransportError::OutOfRange)
    }

    /// The order of the configuration space: little endian for version
    /// 2, guest-native for version 1 (§4.2.4, legacy interface).
    fn config_order(&self) -> ByteOrder {
        self.header.version.kind().byte_order()
    }

    /// Reads 32-bit word `word` of the device features. Set-up only.
    pub fn device_features(&self, word: u32) -> Result<u32, TransportError> {
        if self.is_legacy() && word > 0 {
            return Ok(0);
        }
        self.regs.write32(reg::DEVICE_FEATURES_SEL, word)?;
        self.regs.read32(reg::DEVICE_FEATURES)
    }

    /// Writes 32-bit word `word` of the driver features. Set-up only.
    pub fn set_driver_features(&self, word: u32, value: u32) -> Result<(), TransportError> {
        if self.is_legacy() && word > 0 {
            return if value == 0 {
                Ok(())
            } else {
                Err(TransportError::NotSupported)
            };
        }
        self.regs.write32(reg::DRIVER_FEATURES_SEL, word)?;
        self.regs.write32(reg::DRIVER_FEATURES, value)
    }

    /// The largest size of queue `index` (`QueueNumMax`, clamped to the
    /// split ring's 32768); 0 if the queue does not exist. Set-up only.
    pub fn queue_max(&self, index: u16) -> Result<u16, TransportError> {
        self.sel_queue(index)?;
        let max = self.regs.read32(reg::QUEUE_NUM_MAX)?;
        Ok(u16::try_from(max).map_or(MAX_QUEUE_SIZE, |m| m.min(MAX_QUEUE_SIZE)))
    }

    /// Whether queue `index` is in use (`QueueReady`, v1: `QueuePFN`, is
    /// not 0). Set-up only.
    pub fn queue_in_use(&self, index: u16) -> Result<bool, TransportError> {
        self.sel_queue(index)?;
        let r = if self.is_legacy() {
            reg::QUEUE_PFN
        } else {
            reg::QUEUE_READY
        };
        Ok(self.regs.read32(r)? != 0)
    }

    /// Programs queue `index`: `QueueNum` and the three 64-bit addresses
    /// (v2), or `GuestPageSize` (once after a reset), `QueueNum`,
    /// `QueueAlign` and `QueuePFN` (v1). Everything is checked before the
    /// first register is written. Set-up only.
    pub fn program_queue(&self, index: u16, cfg: &QueueConfig) -> Result<(), TransportError> {
        // Validate before touching the device.
        let pfn = if self.is_legacy() {
            let align = cfg.legacy_align;
            if align == 0 || !align.is_power_of_two() {
                return Err(TransportError::InvalidQueue);
            }
            Some(legacy_pfn(cfg.desc, LEGACY_PAGE_SIZE)?)
        } else {
            None
        };
        let max = self.queue_max(index)?;
        if max == 0 {
            return Err(TransportError::NoQueue);
        }
        if cfg.size == 0 || !cfg.size.is_power_of_two() || cfg.size > max {
            return Err(TransportError::InvalidQueue);
        }
        if self.queue_in_use(index)? {
            return Err(TransportError::InvalidQueue);
        }
        // `queue_in_use` left `index` selected.
        match pfn {
            Some(pfn) => {
                if !self.page_size_written.load(Ordering::Acquire) {
                    self.regs.write32(reg::GUEST_PAGE_SIZE, LEGACY_PAGE_SIZE)?;
                    self.page_size_written.store(true, Ordering::Release);
                }
                self.regs.write32(reg::QUEUE_NUM, u32::from(cfg.size))?;
                self.regs.write32(reg::QUEUE_ALIGN, cfg.legacy_align)?;
                self.regs.write32(reg::QUEUE_PFN, pfn)
            }
            None => {
                self.regs.write32(reg::QUEUE_NUM, u32::from(cfg.size))?;
                for (off, v) in [
                    (reg::QUEUE_DESC_LOW, cfg.desc),
                    (reg::QUEUE_DRIVER_LOW, cfg.driver),
                    (reg::QUEUE_DEVICE_LOW, cfg.device),
                ] {
                    // CAST: the low and high halves of the address.
                    self.regs.write32(off, v as u32)?;
                    self.regs.write32(plus4(off)?, (v >> 32) as u32)?;
                }
                Ok(())
            }
        }
    }

    /// Makes queue `index` live: `QueueReady` = 1 (v2); nothing on v1,
    /// where writing `QueuePFN` did. Set-up only.
    pub fn ready_queue(&self, index: u16) -> Result<(), TransportError> {
        if self.is_legacy() {
            return Ok(());
        }
        self.sel_queue(index)?;
        self.regs.write32(reg::QUEUE_READY, 1)
    }

    /// Detaches queue `index` from its memory: `QueueReady` = 0 and read
    /// back 0 (v2), `QueuePFN` = 0 (v1). Set-up and removal only.
    pub fn detach_queue(&self, index: u16) -> Result<(), TransportError> {
        self.sel_queue(index)?;
        if self.is_legacy() {
            return self.regs.write32(reg::QUEUE_PFN, 0);
        }
        self.regs.write32(reg::QUEUE_READY, 0)?;
        if self.regs.read32(reg::QUEUE_READY)? != 0 {
            return Err(TransportError::Io);
        }
        Ok(())
    }

    /// Shared memory region `id` (v2 `SHMSel`, `SHMLen*`, `SHMBase*`):
    /// `None` if the device has no such region (length all ones), and on
    /// version 1, which has no such registers. Fails with
    /// [`TransportError::OutOfRange`] for a region that wraps the address
    /// space. Set-up only (it uses a selector).
    pub fn shared_memory(&self, id: u8) -> Result<Option<ShmRegion>, TransportError> {
        if self.is_legacy() {
            return Ok(None);
        }
        self.regs.write32(reg::SHM_SEL, u32::from(id))?;
        let rd64 = |off: usize| -> Result<u64, TransportError> {
            let lo = self.regs.read32(off)?;
            let hi = self.regs.read32(plus4(off)?)?;
            Ok(u64::from(lo) | (u64::from(hi) << 32))
        };
        let len = rd64(reg::SHM_LEN_LOW)?;
        if len == u64::MAX || len == 0 {
            return Ok(None);
        }
        let base = rd64(reg::SHM_BASE_LOW)?;
        if base.checked_add(len).is_none() {
            return Err(TransportError::OutOfRange);
        }
        Ok(Some(ShmRegion { base, len }))
    }

    /// The device-independent features this transport supports: the
    /// kind's, without `RING_RESET` (`QueueReset` is not driven) and, on
    /// version 1, without `NOTIFICATION_DATA`.
    pub fn transport_features(&self) -> Features {
        let f = self
            .header
            .version
            .kind()
            .transport_features()
            .without(Feature::RING_RESET);
        if self.is_legacy() {
            f.without(Feature::NOTIFICATION_DATA)
        } else {
            f
        }
    }
}

impl<R: Registers> Transport for MmioTransport<R> {
    fn kind(&self) -> TransportKind {
        self.header.version.kind()
    }

    fn device_id(&self) -> DeviceId {
        self.header.device_id
    }

    fn read_status(&self) -> Result<Status, TransportError> {
        // Only the low byte is defined.
        let s = self.regs.read32(reg::STATUS)?;
        Ok(Status::from_bits(s.to_le_bytes()[0]))
    }

    fn write_status(&self, status: Status) -> Result<(), TransportError> {
        self.regs.write32(reg::STATUS, u32::from(status.bits()))
    }

    fn reset(&self) -> Result<(), TransportError> {
        // A reset may forget GuestPageSize: write it again before the next
        // queue.
        self.page_size_written.store(false, Ordering::Release);
        self.regs.write32(reg::STATUS, 0)
    }

    fn reset_poll_delay(&self) {
        self.regs.delay();
    }

    fn config_generation(&self) -> Result<u32, TransportError> {
        if self.is_legacy() {
            return Ok(0);
        }
        self.regs.read32(reg::CONFIG_GENERATION)
    }

    fn read_config_u8(&self, offset: usize) -> Result<u8, TransportError> {
        self.regs.read8(self.config_at(offset, 1)?)
    }

    fn read_config_u16(&self, offset: usize) -> Result<u16, TransportError> {
        let v = self.regs.read16(self.config_at(offset, 2)?)?;
        // `read16` converted from little endian; back to the device's
        // bytes, then into the configuration's order.
        Ok(self.config_order().from_device_u16(v.to_le_bytes()))
    }

    fn read_config_u32(&self, offset: usize) -> Result<u32, TransportError> {
        let v = self.regs.read32(self.config_at(offset, 4)?)?;
        Ok(self.config_order().from_device_u32(v.to_le_bytes()))
    }

    fn read_config_u64(&self, offset: usize) -> Result<u64, TransportError> {
        // Two 32-bit reads (not atomic: use within `read_consistent`). The
        // 8 device bytes are reassembled in order, then interpreted, so a
        // big-endian legacy field comes out right too.
        let at = self.config_at(offset, 8)?;
        let lo = self.regs.read32(at)?.to_le_bytes();
        let hi = self.regs.read32(plus4(at)?)?.to_le_bytes();
        let b = [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]];
        Ok(self.config_order().from_device_u64(b))
    }

    fn write_config_u8(&self, offset: usize, value: u8) -> Result<(), TransportError> {
        self.regs.write8(self.config_at(offset, 1)?, value)
    }

    fn write_config_u16(&self, offset: usize, value: u16) -> Result<(), TransportError> {
        let at = self.config_at(offset, 2)?;
        let b = self.config_order().to_device_u16(value);
        self.regs.write16(at, u16::from_le_bytes(b))
    }

    fn write_config_u32(&self, offset: usize, value: u32) -> Result<(), TransportError> {
        let at = self.config_at(offset, 4)?;
        let b = self.config_order().to_device_u32(value);
        self.regs.write32(at, u32::from_le_bytes(b))
    }

    fn write_config_u64(&self, offset: usize, value: u64) -> Result<(), TransportError> {
        let at = self.config_at(offset, 8)?;
        let b = self.config_order().to_device_u64(value);
        self.regs
            .write32(at, u32::from_le_bytes([b[0], b[1], b[2], b[3]]))?;
        self.regs
            .write32(plus4(at)?, u32::from_le_bytes([b[4], b[5], b[6], b[7]]))
    }

    fn notify(&self, index: u16, data: Option<NotifyData>) -> Result<(), TransportError> {
        let v = match data {
            // Notification data exists only in version 2.
            Some(d) if !self.is_legacy() => d.to_u32(index),
            _ => u32::from(index),
        };
        self.regs.write32(reg::QUEUE_NOTIFY, v)
    }

    fn ack_interrupt(&self) -> Result<InterruptStatus, TransportError> {
        // Only bits 0 (used buffer) and 1 (configuration change) are
        // defined; acknowledge exactly the defined bits that were read.
        let raw = self.regs.read32(reg::INTERRUPT_STATUS)?;
        let bits = raw & 0x3;
        if bits != 0 {
            self.regs.write32(reg::INTERRUPT_ACK, bits)?;
        }
        // CAST: two bits.
        Ok(InterruptStatus::from_bits(bits as u8))
    }
}

/// The set-up half on a shared reference, as the kernel framework uses it
/// (see the [module documentation](self) on serialisation).
impl<R: Registers> TransportSetup for &MmioTransport<R> {
    fn supported_features(&self) -> Features {
        (*self).transport_features()
    }

    fn read_device_features(&mut self, word: u32) -> Result<u32, TransportError> {
        self.device_features(word)
    }

    fn write_driver_features(&mut self, word: u32, value: u32) -> Result<(), TransportError> {
        self.set_driver_features(word, value)
    }

    fn max_queue_size(&mut self, index: u16) -> Result<u16, TransportError> {
        self.queue_max(index)
    }

    fn setup_queue(&mut self, index: u16, config: &QueueConfig) -> Result<(), TransportError> {
        self.program_queue(index, config)
    }

    fn enable_queue(&mut self, index: u16) -> Result<(), TransportError> {
        self.ready_queue(index)
    }

    fn release_queue(&mut self, index: u16) -> Result<(), TransportError> {
        self.detach_queue(index)
    }
}
