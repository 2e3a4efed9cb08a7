// SPDX-License-Identifier: GPL-2.0

//! Virtio over PCI: register layouts, and the capability walk (virtio 1.4
//! §4.1).
//!
//! A modern (1.x) virtio PCI device describes where its configuration
//! structures live with vendor-specific capabilities (§4.1.4). The device
//! writes that list, so [`parse_caps`] treats it as hostile: the walk is
//! bounded and loop-checked, every pointer and length is validated, each
//! region must lie inside its BAR, regions may not overlap, and required
//! structures must be present and large enough. Anything wrong is an error:
//! the driver then refuses the device (or uses the legacy interface of a
//! transitional device) instead of touching memory outside what the
//! capabilities name.
//!
//! Config space and BAR sizes come through [`ConfigSpace`] and [`BarInfo`],
//! so the parser runs unchanged on the host (tests) and in the kernel
//! (KUnit suites on crafted lists, and the PCI transport). The register
//! logic the transport shares with tests (MSI-X vector routing with its
//! read-back, the device configuration and its byte order) works on any
//! [`Window`].

use super::{
    transport::TransportError,
    wire::ByteOrder, //
};

/// `PCI_STATUS` register offset in config space.
pub const PCI_STATUS: u16 = 0x06;
/// `PCI_STATUS_CAP_LIST`: the device has a capability list.
pub const PCI_STATUS_CAP_LIST: u16 = 0x10;
/// `PCI_CAPABILITY_LIST`: offset of the first capability pointer.
pub const PCI_CAPABILITY_LIST: u16 = 0x34;
/// `PCI_CAP_ID_VNDR`: vendor-specific capability.
pub const PCI_CAP_ID_VNDR: u8 = 0x09;
/// `PCI_CAP_ID_MSIX`.
pub const PCI_CAP_ID_MSIX: u8 = 0x11;

/// `cfg_type` of the common configuration structure.
pub const CAP_COMMON_CFG: u8 = 1;
/// `cfg_type` of the notification structure.
pub const CAP_NOTIFY_CFG: u8 = 2;
/// `cfg_type` of the ISR status structure.
pub const CAP_ISR_CFG: u8 = 3;
/// `cfg_type` of the device-specific configuration structure.
pub const CAP_DEVICE_CFG: u8 = 4;
/// `cfg_type` of the PCI configuration access structure.
pub const CAP_PCI_CFG: u8 = 5;
/// `cfg_type` of a shared memory region.
pub const CAP_SHARED_MEMORY_CFG: u8 = 8;
/// `cfg_type` of vendor-specific data.
pub const CAP_VENDOR_CFG: u8 = 9;

/// Offsets in `struct virtio_pci_common_cfg` (§4.1.4.3).
pub mod common {
    /// `le32 device_feature_select`.
    pub const DEVICE_FEATURE_SELECT: usize = 0;
    /// `le32 device_feature`.
    pub const DEVICE_FEATURE: usize = 4;
    /// `le32 driver_feature_select`.
    pub const DRIVER_FEATURE_SELECT: usize = 8;
    /// `le32 driver_feature`.
    pub const DRIVER_FEATURE: usize = 12;
    /// `le16 config_msix_vector`.
    pub const CONFIG_MSIX_VECTOR: usize = 16;
    /// `le16 num_queues`.
    pub const NUM_QUEUES: usize = 18;
    /// `u8 device_status`.
    pub const DEVICE_STATUS: usize = 20;
    /// `u8 config_generation`.
    pub const CONFIG_GENERATION: usize = 21;
    /// `le16 queue_select`.
    pub const QUEUE_SELECT: usize = 22;
    /// `le16 queue_size`.
    pub const QUEUE_SIZE: usize = 24;
    /// `le16 queue_msix_vector`.
    pub const QUEUE_MSIX_VECTOR: usize = 26;
    /// `le16 queue_enable`.
    pub const QUEUE_ENABLE: usize = 28;
    /// `le16 queue_notify_off`.
    pub const QUEUE_NOTIFY_OFF: usize = 30;
    /// `le64 queue_desc`.
    pub const QUEUE_DESC: usize = 32;
    /// `le64 queue_driver`.
    pub const QUEUE_DRIVER: usize = 40;
    /// `le64 queue_device`.
    pub const QUEUE_DEVICE: usize = 48;
    /// The three queue addresses as the (low, high) offsets of their 32-bit
    /// halves, in the order desc, driver, device: a 64-bit field is written
    /// as two 32-bit writes, low first (§4.1.3.1).
    pub const QUEUE_ADDR_HALVES: [(usize, usize); 3] = [
        (QUEUE_DESC, QUEUE_DESC + 4),
        (QUEUE_DRIVER, QUEUE_DRIVER + 4),
        (QUEUE_DEVICE, QUEUE_DEVICE + 4),
    ];
    /// `le16 queue_notif_config_data`.
    pub const QUEUE_NOTIF_CONFIG_DATA: usize = 56;
    /// `le16 queue_reset`.
    pub const QUEUE_RESET: usize = 58;
    /// Size of the structure up to and including `queue_device`: what every
    /// 1.x device provides and the driver needs.
    pub const MIN_LEN: u32 = 56;
}

/// Offsets in the legacy I/O BAR 0 (§4.1.4.10).
pub mod legacy {
    /// `le32 host_features` (read-only).
    pub const HOST_FEATURES: usize = 0;
    /// `le32 guest_features`.
    pub const GUEST_FEATURES: usize = 4;
    /// `le32 queue_address`: the queue's page frame number (4096-byte pages).
    pub const QUEUE_PFN: usize = 8;
    /// `le16 queue_size` (read-only).
    pub const QUEUE_NUM: usize = 12;
    /// `le16 queue_select`.
    pub const QUEUE_SEL: usize = 14;
    /// `le16 queue_notify`.
    pub const QUEUE_NOTIFY: usize = 16;
    /// `u8 device_status`.
    pub const STATUS: usize = 18;
    /// `u8 isr_status` (read clears).
    pub const ISR: usize = 19;
    /// `le16 config_msix_vector` (only with MSI-X enabled).
    pub const CONFIG_VECTOR: usize = 20;
    /// `le16 queue_msix_vector` (only with MSI-X enabled).
    pub const QUEUE_VECTOR: usize = 22;
    /// Device-specific configuration without MSI-X.
    pub const CONFIG_OFF_NO_MSIX: usize = 20;
    /// Device-specific configuration with MSI-X enabled.
    pub const CONFIG_OFF_MSIX: usize = 24;
    /// Page size of `QUEUE_PFN`.
    pub const QUEUE_ADDR_SHIFT: u32 = 12;
    /// Used ring alignment of legacy queues.
    pub const VRING_ALIGN: usize = 4096;
}

/// `VIRTIO_MSI_NO_VECTOR`: no MSI-X vector for this source.
pub const MSI_NO_VECTOR: u16 = 0xffff;

/// Byte-wise access to a device's PCI configuration space.
///
/// Each read returns `None` when `offset` is outside config space or the
/// read failed; the parser never reads past the standard 256 bytes.
pub trait ConfigSpace {
    /// Reads a byte.
    fn read8(&self, offset: u16) -> Option<u8>;

    /// Reads a little-endian 16-bit value.
    fn read16(&self, offset: u16) -> Option<u16> {
        let lo = self.read8(offset)?;
        let hi = self.read8(offset.checked_add(1)?)?;
        Some(u16::from_le_bytes([lo, hi]))
    }

    /// Reads a little-endian 32-bit value.
    fn read32(&self, offset: u16) -> Option<u32> {
        let lo = self.read16(offset)?;
        let hi = self.read16(offset.checked_add(2)?)?;
        Some(u32::from(lo) | (u32::from(hi) << 16))
    }
}

/// What the driver knows of one BAR (from the PCI core, not the device's
/// capabilities).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BarInfo {
    /// Size in bytes; 0 for an unimplemented BAR.
    pub len: u64,
}

/// A region of a BAR named by a capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// BAR number, 0..=5.
    pub bar: u8,
    /// Offset within the BAR.
    pub offset: u32,
    /// Length in bytes.
    pub length: u32,
}

impl Region {
    fn end(&self) -> u64 {
        // Two `u32`s cannot overflow a `u64`.
        u64::from(self.offset).wrapping_add(u64::from(self.length))
    }

    fn overlaps(&self, other: &Region) -> bool {
        self.bar == other.bar
            && self.length != 0
            && other.length != 0
            && u64::from(self.offset) < other.end()
            && u64::from(other.offset) < self.end()
    }
}

/// The modern interface of a device, as its capabilities describe it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModernCaps {
    /// The common configuration structure.
    pub common: Region,
    /// The notification structure.
    pub notify: Region,
    /// `notify_off_multiplier` (0 or a power of two of at least 2).
    pub notify_off_multiplier: u32,
    /// The ISR status byte.
    pub isr: Region,
    /// The device-specific configuration, if the device has one.
    pub device: Option<Region>,
}

impl ModernCaps {
    /// Offset of the notification address of a queue within the notify
    /// region (§4.1.4.4), if `width` bytes there lie inside the region.
    pub fn notify_offset(&self, queue_notify_off: u16, width: u32) -> Option<u32> {
        // A `u16` times a `u32` cannot overflow a `u64`.
        let off = u64::from(queue_notify_off).wrapping_mul(u64::from(self.notify_off_multiplier));
        let end = off.checked_add(u64::from(width))?;
        if end > u64::from(self.notify.length) {
            return None;
        }
        u32::try_from(off).ok()
    }
}

/// Why a capability list was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapError {
    /// The device has no capability list at all.
    NoCapList,
    /// A capability pointer is below 0x40 or beyond config space.
    BadPointer {
        /// Where the pointer was read.
        at: u16,
        /// The pointer.
        ptr: u8,
    },
    /// The list visits a capability twice (or is longer than config space
    /// can hold).
    Loop {
        /// The repeated capability.
        at: u16,
    },
    /// A virtio capability is shorter than its structure, or runs past
    /// config space.
    Truncated {
        /// The capability.
        at: u16,
    },
    /// A structure lies (partly) outside its BAR.
    OutsideBar {
        /// Its `cfg_type`.
        cfg_type: u8,
    },
    /// A structure is misaligned.
    Misaligned {
        /// Its `cfg_type`.
        cfg_type: u8,
    },
    /// A structure is too small for what the driver needs.
    TooSmall {
        /// Its `cfg_type`.
        cfg_type: u8,
    },
    /// Two structures overlap.
    Overlap {
        /// One `cfg_type`.
        a: u8,
        /// The other.
        b: u8,
    },
    /// `notify_off_multiplier` is neither 0 nor an even power of two.
    BadMultiplier(u32),
    /// A required structure is missing.
    Missing {
        /// Its `cfg_type`.
        cfg_type: u8,
    },
    /// Config space could not be read.
    ReadFailed,
}

/// Size of `struct virtio_pci_cap`.
const CAP_LEN: u8 = 16;
/// Size of `struct virtio_pci_notify_cap`.
const NOTIFY_CAP_LEN: u8 = 20;
/// Capabilities live in the standard header's device-specific part.
const CAP_MIN_PTR: u8 = 0x40;
/// At most this many capabilities fit in the 192 bytes after the header.
const MAX_CAPS: usize = 48;

/// Walks the capability list and returns the virtio structures to use: the
/// first valid instance of each type (§4.1.4: the device orders them by
/// preference). Capabilities with a reserved `cfg_type` or `bar` are
/// ignored, as the spec requires; everything else is validated.
///
/// Returns `Ok(None)` when the device has no virtio capabilities at all (a
/// legacy-only device).
pub fn parse_caps<C: ConfigSpace + ?Sized>(
    cfg: &C,
    bars: &[BarInfo; 6],
) -> Result<Option<ModernCaps>, CapError> {
    let status = cfg.read16(PCI_STATUS).ok_or(CapError::ReadFailed)?;
    if status & PCI_STATUS_CAP_LIST == 0 {
        return Err(CapError::NoCapList);
    }
    let mut common = None;
    let mut notify = None;
    let mut isr = None;
    let mut device = None;
    let mut any_virtio = false;

    // One bit per dword of config space, to detect loops.
    let mut seen = [false; 64];
    let mut at = PCI_CAPABILITY_LIST;
    let mut ptr = cfg.read8(at).ok_or(CapError::ReadFailed)? & !3;
    let mut count = 0usize;
    while ptr != 0 {
        if ptr < CAP_MIN_PTR {
            return Err(CapError::BadPointer { at, ptr });
        }
        let pos = u16::from(ptr);
        let dword = usize::from(ptr / 4);
        count = count.saturating_add(1);
        if count > MAX_CAPS || seen.get(dword).copied().unwrap_or(true) {
            return Err(CapError::Loop { at: pos });
        }
        if let Some(s) = seen.get_mut(dword) {
            *s = true;
        }
        let id = cfg.read8(pos).ok_or(CapError::ReadFailed)?;
        let next = cfg
            .read8(pos.saturating_add(1))
            .ok_or(CapError::ReadFailed)?;
        if id == PCI_CAP_ID_VNDR {
            if let Some((cfg_type, region, mult)) = read_virtio_cap(cfg, pos, bars)? {
                any_virtio = true;
                let slot = match cfg_type {
                    CAP_COMMON_CFG => &mut common,
                    CAP_NOTIFY_CFG => &mut notify,
                    CAP_ISR_CFG => &mut isr,
                    CAP_DEVICE_CFG => &mut device,
                    _ => &mut None,
                };
                if slot.is_none() {
                    *slot = Some((region, mult));
                }
            }
        }
        at = pos.saturating_add(1);
        ptr = next & !3;
    }

    if !any_virtio {
        return Ok(None);
    }
    let (common, _) = common.ok_or(CapError::Missing {
        cfg_type: CAP_COMMON_CFG,
    })?;
    let (notify, mult) = notify.ok_or(CapError::Missing {
        cfg_type: CAP_NOTIFY_CFG,
    })?;
    let (isr, _) = isr.ok_or(CapError::Missing {
        cfg_type: CAP_ISR_CFG,
    })?;
    let device = device.map(|(r, _)| r);

    let named = [
        (CAP_COMMON_CFG, Some(common)),
        (CAP_NOTIFY_CFG, Some(notify)),
        (CAP_ISR_CFG, Some(isr)),
        (CAP_DEVICE_CFG, device),
    ];
    for (i, (ta, ra)) in named.iter().enumerate() {
        for (tb, rb) in named.iter().skip(i.saturating_add(1)) {
            if let (Some(ra), Some(rb)) = (ra, rb) {
                if ra.overlaps(rb) {
                    return Err(CapError::Overlap { a: *ta, b: *tb });
                }
            }
        }
    }
    Ok(Some(ModernCaps {
        common,
        notify,
        notify_off_multiplier: mult,
        isr,
        device,
    }))
}

/// Reads and validates one vendor capability at `pos`. `Ok(None)` for one
/// the driver must ignore (reserved type or BAR, or a type it does not use).
fn read_virtio_cap<C: ConfigSpace + ?Sized>(
    cfg: &C,
    pos: u16,
    bars: &[BarInfo; 6],
) -> Result<Option<(u8, Region, u32)>, CapError> {
    // `pos` is below 256 and the field offsets below 20: no overflow, and
    // reads past config space fail in `ConfigSpace`.
    let at = |o: u16| pos.saturating_add(o);
    let rd8 = |o: u16| cfg.read8(at(o)).ok_or(CapError::ReadFailed);
    let cap_len = rd8(2)?;
    let cfg_type = rd8(3)?;
    if !matches!(
        cfg_type,
        CAP_COMMON_CFG | CAP_NOTIFY_CFG | CAP_ISR_CFG | CAP_DEVICE_CFG
    ) {
        // PCI_CFG, shared memory and vendor data are not used; anything
        // else is reserved and must be ignored.
        return Ok(None);
    }
    // A capability at 0xfc has no room for `bar` (nor anything after it)
    // in config space: refuse it without reading past 256 bytes.
    if at(5) > 256 {
        return Err(CapError::Truncated { at: pos });
    }
    let bar = rd8(4)?;
    if bar > 5 {
        return Ok(None);
    }
    let need = if cfg_type == CAP_NOTIFY_CFG {
        NOTIFY_CAP_LEN
    } else {
        CAP_LEN
    };
    // The structure must fit the capability and config space (256 bytes).
    if cap_len < need || at(u16::from(need)) > 256 {
        return Err(CapError::Truncated { at: pos });
    }
    let offset = cfg.read32(at(8)).ok_or(CapError::ReadFailed)?;
    let length = cfg.read32(at(12)).ok_or(CapError::ReadFailed)?;
    let mult = if cfg_type == CAP_NOTIFY_CFG {
        let m = cfg.read32(at(16)).ok_or(CapError::ReadFailed)?;
        if m != 0 && (m < 2 || !m.is_power_of_two()) {
            return Err(CapError::BadMultiplier(m));
        }
        m
    } else {
        0
    };
    let region = Region {
        bar,
        offset,
        length,
    };
    let bar_len = bars.get(usize::from(bar)).map_or(0, |b| b.len);
    if region.end() > bar_len {
        return Err(CapError::OutsideBar { cfg_type });
    }
    let (align, min): (u32, u32) = match cfg_type {
        CAP_COMMON_CFG => (4, common::MIN_LEN),
        CAP_NOTIFY_CFG => (2, 2),
        CAP_ISR_CFG => (1, 1),
        _ => (4, 0),
    };
    if offset & align.wrapping_sub(1) != 0 {
        return Err(CapError::Misaligned { cfg_type });
    }
    if length < min {
        return Err(CapError::TooSmall { cfg_type });
    }
    Ok(Some((cfg_type, region, mult)))
}

/// One mapped register window of a virtio PCI device (the common
/// configuration, the device configuration, the legacy I/O BAR 0), as the
/// bus accesses it: multi-byte accessors are little-endian, like the
/// kernel's `ioread16()` and `ioread32()`.
///
/// The kernel transport implements it on its mapped regions, tests on
/// plain memory, so [`set_msix_vector`] and [`ConfigWindow`] run unchanged
/// on both.
pub trait Window {
    /// Reads the byte at `off`.
    fn read8(&self, off: usize) -> Result<u8, TransportError>;
    /// Reads the little-endian `u16` at `off`.
    fn read16(&self, off: usize) -> Result<u16, TransportError>;
    /// Reads the little-endian `u32` at `off`.
    fn read32(&self, off: usize) -> Result<u32, TransportError>;
    /// Writes the byte `v` at `off`.
    fn write8(&self, off: usize, v: u8) -> Result<(), TransportError>;
    /// Writes `v` as a little-endian `u16` at `off`.
    fn write16(&self, off: usize, v: u16) -> Result<(), TransportError>;
    /// Writes `v` as a little-endian `u32` at `off`.
    fn write32(&self, off: usize, v: u32) -> Result<(), TransportError>;
}

/// Where an MSI-X vector is routed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorSource {
    /// Configuration change notifications (`config_msix_vector`).
    Config,
    /// Used buffer notifications of one queue (`queue_msix_vector`).
    Queue(u16),
}

/// A failed [`set_msix_vector`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorError {
    /// The register access failed.
    Io(TransportError),
    /// The device did not take the vector: it read back `got`, usually
    /// [`MSI_NO_VECTOR`] because it could not allocate resources for it
    /// (§4.1.5.1.2.1). The driver then tries a routing with fewer vectors.
    Refused {
        /// What the vector register read back.
        got: u16,
    },
}

/// Routes `source` to MSI-X `vector` ([`MSI_NO_VECTOR`] for none) and
/// reads the register back, as §4.1.5.1.2.1 requires: a device that could
/// not allocate the vector reads back [`MSI_NO_VECTOR`]. `legacy` picks
/// the registers of the legacy I/O BAR (only present while MSI-X is
/// enabled) instead of the common configuration structure.
pub fn set_msix_vector<W: Window + ?Sized>(
    w: &W,
    legacy: bool,
    source: VectorSource,
    vector: u16,
) -> Result<(), VectorError> {
    let (select, reg) = match (source, legacy) {
        (VectorSource::Config, false) => (None, common::CONFIG_MSIX_VECTOR),
        (VectorSource::Config, true) => (None, legacy::CONFIG_VECTOR),
        (VectorSource::Queue(i), false) => {
            (Some((common::QUEUE_SELECT, i)), common::QUEUE_MSIX_VECTOR)
        }
        (VectorSource::Queue(i), true) => (Some((legacy::QUEUE_SEL, i)), legacy::QUEUE_VECTOR),
    };
    if let Some((sel, index)) = select {
        w.write16(sel, index).map_err(VectorError::Io)?;
    }
    w.write16(reg, vector).map_err(VectorError::Io)?;
    let got = w.read16(reg).map_err(VectorError::Io)?;
    if got != vector {
        return Err(VectorError::Refused { got });
    }
    Ok(())
}

/// The offset of the device configuration in the legacy I/O BAR 0: 24
/// while MSI-X is enabled (the two vector registers come first), 20
/// without (§4.1.4.10).
pub const fn legacy_config_offset(msix: bool) -> usize {
    if msix {
        legacy::CONFIG_OFF_MSIX
    } else {
        legacy::CONFIG_OFF_NO_MSIX
    }
}

/// The device-specific configuration of a virtio PCI device: a window,
/// where the configuration starts in it, and its byte order.
///
/// Multi-byte fields are converted between CPU order and `order`
/// ([`TransportKind::byte_order`](super::transport::TransportKind::byte_order): little-endian for a modern device,
/// guest-native for a legacy one, §4.1.4.10), whatever the CPU: the bus
/// accessors are little-endian, so the bytes they carry are taken apart
/// and reassembled in `order`. 64-bit fields are two 32-bit accesses, low
/// address first (§4.1.3.1), not atomic: read them within
/// [`read_consistent`](super::config::read_consistent).
pub struct ConfigWindow<'a, W: ?Sized> {
    window: &'a W,
    base: usize,
    order: ByteOrder,
}

impl<'a, W: Window + ?Sized> ConfigWindow<'a, W> {
    /// The configuration at `base` in `window`, fields in `order`.
    pub const fn new(window: &'a W, base: usize, order: ByteOrder) -> Self {
        Self {
            window,
            base,
            order,
        }
    }

    /// The configuration of a legacy device in its I/O BAR 0 `window`,
    /// at offset 20 or, with MSI-X enabled, 24, fields in `order`.
    pub const fn legacy(window: &'a W, msix: bool, order: ByteOrder) -> Self {
        Self::new(window, legacy_config_offset(msix), order)
    }

    fn at(&self, offset: usize) -> Result<usize, TransportError> {
        self.base
            .checked_add(offset)
            .ok_or(TransportError::OutOfRange)
    }

    /// Reads the byte at `offset`.
    pub fn read_u8(&self, offset: usize) -> Result<u8, TransportError> {
        self.window.read8(self.at(offset)?)
    }

    /// Reads the `u16` field at `offset`.
    pub fn read_u16(&self, offset: usize) -> Result<u16, TransportError> {
        let v = self.window.read16(self.at(offset)?)?;
        Ok(self.order.from_device_u16(v.to_le_bytes()))
    }

    /// Reads the `u32` field at `offset`.
    pub fn read_u32(&self, offset: usize) -> Result<u32, TransportError> {
        let v = self.window.read32(self.at(offset)?)?;
        Ok(self.order.from_device_u32(v.to_le_bytes()))
    }

    /// Reads the `u64` field at `offset` (two 32-bit reads, low address
    /// first).
    pub fn read_u64(&self, offset: usize) -> Result<u64, TransportError> {
        let lo = self.window.read32(self.at(offset)?)?.to_le_bytes();
        let hi = self.window.read32(self.at(plus4(offset)?)?)?.to_le_bytes();
        let b = [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]];
        Ok(self.order.from_device_u64(b))
    }

    /// Writes the byte at `offset`.
    pub fn write_u8(&self, offset: usize, v: u8) -> Result<(), TransportError> {
        self.window.write8(self.at(offset)?, v)
    }

    /// Writes the `u16` field at `offset`.
    pub fn write_u16(&self, offset: usize, v: u16) -> Result<(), TransportError> {
        let raw = u16::from_le_bytes(self.order.to_device_u16(v));
        self.window.write16(self.at(offset)?, raw)
    }

    /// Writes the `u32` field at `offset`.
    pub fn write_u32(&self, offset: usize, v: u32) -> Result<(), TransportError> {
        let raw = u32::from_le_bytes(self.order.to_device_u32(v));
        self.window.write32(self.at(offset)?, raw)
    }

    /// Writes the `u64` field at `offset` (two 32-bit writes, low address
    /// first).
    pub fn write_u64(&self, offset: usize, v: u64) -> Result<(), TransportError> {
        let b = self.order.to_device_u64(v);
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let hi = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        self.window.write32(self.at(offset)?, lo)?;
        self.window.write32(self.at(plus4(offset)?)?, hi)
    }
}

/// The offset of the high half of a 64-bit field.
fn plus4(off: usize) -> Result<usize, TransportError> {
    off.checked_add(4).ok_or(TransportError::OutOfRange)
}
