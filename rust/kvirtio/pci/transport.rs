// SPDX-License-Identifier: GPL-2.0

//! The virtio PCI transport (virtio 1.4 §4.1), modern and legacy.
//!
//! A modern device is driven through the regions its vendor capabilities
//! name (common configuration, notification, ISR, device configuration),
//! found by [`crate::virtio::pci::parse_caps`] and mapped one by one: only
//! what the capabilities name is mapped, and every access is checked
//! against the mapped length. A legacy or transitional device is driven
//! through its I/O BAR 0 (§4.1.4.10). The choice follows the C driver:
//! modern first, legacy only for a transitional device without a usable
//! modern interface, or when the driver's `force_legacy` parameter asks.
//!
//! C version: `drivers/virtio/virtio_pci_modern_dev.c`,
//! `drivers/virtio/virtio_pci_legacy_dev.c`.

use crate::{
    kext::pci::{bar_info, config_read8, BarClaim, Enabled, IoRegion},
    virtio::{
        pci::{
            self as vpci, common, legacy, set_msix_vector, BarInfo, ConfigWindow, ModernCaps,
            VectorError, VectorSource, Window,
        },
        queue::{NotifyData, QueueConfig},
        spec::{DeviceId, Status},
        transport::{InterruptStatus, Transport, TransportError, TransportKind, TransportSetup},
    },
};
use kernel::{
    device::Bound,
    pci,
    prelude::*,
    sync::atomic::{Atomic, Relaxed}, //
};

/// Most queues a modern device may have here (the notification offsets
/// are kept per queue).
const MAX_QUEUES: u16 = 1024;

/// The config space of a bound PCI device, for the capability parser.
struct Cfg<'a>(&'a pci::Device<Bound>);

impl vpci::ConfigSpace for Cfg<'_> {
    fn read8(&self, offset: u16) -> Option<u8> {
        config_read8(self.0, offset)
    }
}

/// Reads the BAR sizes the PCI core found.
fn bars(pdev: &pci::Device<Bound>) -> [BarInfo; 6] {
    let mut b = [BarInfo::default(); 6];
    for (i, slot) in b.iter_mut().enumerate() {
        // CAST: `i < 6`.
        slot.len = bar_info(pdev, i as u8).0;
    }
    b
}

/// Parses the capability list of `pdev` (see
/// [`crate::virtio::pci::parse_caps`]).
pub fn find_modern_caps(pdev: &pci::Device<Bound>) -> Result<Option<ModernCaps>, vpci::CapError> {
    vpci::parse_caps(&Cfg(pdev), &bars(pdev))
}

/// The mapped registers of one interface.
enum Regs {
    Modern {
        common: IoRegion,
        notify: IoRegion,
        isr: IoRegion,
        device: Option<IoRegion>,
        caps: ModernCaps,
    },
    Legacy {
        io: IoRegion,
    },
}

/// A virtio PCI device's transport.
///
/// Every accessor takes `&self`, so queues notify and interrupt handlers
/// read the ISR without a lock. The selector-based accesses (features,
/// queue setup: [`TransportSetup`], implemented on `&PciTransport`) happen
/// only during probe, which the driver core serialises; what they record
/// for later (the notification offsets, MSI-X on or off) is atomic.
pub struct PciTransport {
    // Field order is drop order: unmap, then release the BARs, then
    // disable the device.
    regs: Regs,
    _claims: KVec<BarClaim>,
    enabled: Enabled,
    device_id: DeviceId,
    /// MSI-X is enabled (moves the legacy device configuration).
    msix: Atomic<bool>,
    /// Per-queue notification offsets (modern), filled by `setup_queue`:
    /// one for each queue index the transport handles (`MAX_QUEUES`), as
    /// a device's `num_queues` may change with the features (a network
    /// device with MQ has its queue pairs only after FEATURES_OK).
    notify_offs: KVec<Atomic<u32>>,
}

fn io_err(_: Error) -> TransportError {
    TransportError::Io
}

/// The core's PCI register logic reaches the mapped regions through
/// [`Window`]; a failed access (outside the mapping) is out of range.
impl Window for IoRegion {
    fn read8(&self, off: usize) -> Result<u8, TransportError> {
        IoRegion::read8(self, off).map_err(|_| TransportError::OutOfRange)
    }
    fn read16(&self, off: usize) -> Result<u16, TransportError> {
        IoRegion::read16(self, off).map_err(|_| TransportError::OutOfRange)
    }
    fn read32(&self, off: usize) -> Result<u32, TransportError> {
        IoRegion::read32(self, off).map_err(|_| TransportError::OutOfRange)
    }
    fn write8(&self, off: usize, v: u8) -> Result<(), TransportError> {
        IoRegion::write8(self, off, v).map_err(|_| TransportError::OutOfRange)
    }
    fn write16(&self, off: usize, v: u16) -> Result<(), TransportError> {
        IoRegion::write16(self, off, v).map_err(|_| TransportError::OutOfRange)
    }
    fn write32(&self, off: usize, v: u32) -> Result<(), TransportError> {
        IoRegion::write32(self, off, v).map_err(|_| TransportError::OutOfRange)
    }
}

impl PciTransport {
    /// Probes the interface of `pdev` for virtio device `device_id`:
    /// modern unless `force_legacy` (and the device is transitional), or
    /// the modern interface is absent on a transitional device.
    pub fn new(
        pdev: &pci::Device<Bound>,
        device_id: DeviceId,
        force_legacy: bool,
        name: &'static CStr,
    ) -> Result<Self> {
        let transitional = (0x1000..=0x103f).contains(&pdev.device_id());
        let want = DeviceId::from_pci(pdev.device_id(), pdev.subsystem_device_id());
        if want != Some(device_id) {
            dev_err!(
                pdev.as_ref(),
                "not a virtio device of type {} (PCI id {:#06x}, subsystem {:#06x})\n",
                device_id.0,
                pdev.device_id(),
                pdev.subsystem_device_id()
            );
            return Err(ENODEV);
        }
        let enabled = Enabled::new(pdev)?;
        let caps = if force_legacy && transitional {
            None
        } else {
            match find_modern_caps(pdev) {
                Ok(c) => c,
                Err(e) => {
                    dev_err!(pdev.as_ref(), "invalid virtio capabilities: {:?}\n", e);
                    if !transitional {
                        return Err(ENODEV);
                    }
                    None
                }
            }
        };
        let mut claims = KVec::new();
        let regs = match caps {
            Some(caps) => {
                let mut used = [false; 6];
                let regions = [
                    Some(caps.common),
                    Some(caps.notify),
                    Some(caps.isr),
                    caps.device,
                ];
                for r in regions.iter().flatten() {
                    // A capability's BAR is below 6 (checked when parsed);
                    // one that is not claims nothing.
                    let Some(seen) = used.get_mut(usize::from(r.bar)) else {
                        return Err(ENODEV);
                    };
                    if !*seen {
                        *seen = true;
                        claims.push(BarClaim::new(pdev, r.bar, name)?, GFP_KERNEL)?;
                    }
                }
                let map = |r: vpci::Region, cap: usize| {
                    // Map only what the driver uses of large structures.
                    let len = core::cmp::min(r.length as usize, cap);
                    IoRegion::map(pdev, r.bar, u64::from(r.offset), len)
                };
                Regs::Modern {
                    common: map(caps.common, 64)?,
                    notify: map(caps.notify, caps.notify.length as usize)?,
                    isr: map(caps.isr, 1)?,
                    device: match caps.device {
                        Some(d) if d.length > 0 => Some(map(d, 4096)?),
                        _ => None,
                    },
                    caps,
                }
            }
            None if transitional => {
                let (len, is_io) = bar_info(pdev, 0);
                if !is_io || len < 20 {
                    dev_err!(pdev.as_ref(), "legacy device without an I/O BAR 0\n");
                    return Err(ENODEV);
                }
                claims.push(BarClaim::new(pdev, 0, name)?, GFP_KERNEL)?;
                // CAST: an I/O BAR is at most 64 KiB... and we map 256 at most.
                let io = IoRegion::map(pdev, 0, 0, core::cmp::min(len, 256) as usize)?;
                Regs::Legacy { io }
            }
            None => {
                dev_err!(pdev.as_ref(), "modern device without virtio capabilities\n");
                return Err(ENODEV);
            }
        };
        let num_queues = match &regs {
            Regs::Modern { .. } => MAX_QUEUES,
            Regs::Legacy { .. } => 0,
        };
        let mut notify_offs = KVec::with_capacity(usize::from(num_queues), GFP_KERNEL)?;
        for _ in 0..num_queues {
            notify_offs.push(Atomic::new(0), GFP_KERNEL)?;
        }
        Ok(Self {
            regs,
            _claims: claims,
            enabled,
            device_id,
            msix: Atomic::new(false),
            notify_offs,
        })
    }

    /// Whether the legacy interface is in use.
    pub fn is_legacy(&self) -> bool {
        matches!(self.regs, Regs::Legacy { .. })
    }

    /// Records that MSI-X is on (the legacy device configuration moves).
    pub fn set_msix(&self, on: bool) {
        self.msix.store(on, Relaxed);
    }

    fn msix(&self) -> bool {
        self.msix.load(Relaxed)
    }

    /// Routes configuration change interrupts to MSI-X `vector`
    /// ([`vpci::MSI_NO_VECTOR`] for none); checks the device accepted it
    /// (`EBUSY` if it read back another vector, such as `NO_VECTOR`).
    pub fn set_config_vector(&self, vector: u16) -> Result {
        self.set_vector(VectorSource::Config, vector)
    }

    /// Routes queue `index`'s interrupts to MSI-X `vector`; checks the
    /// device accepted it, as [`Self::set_config_vector`].
    pub fn set_queue_vector(&self, index: u16, vector: u16) -> Result {
        self.set_vector(VectorSource::Queue(index), vector)
    }

    fn set_vector(&self, source: VectorSource, vector: u16) -> Result {
        let r = match &self.regs {
            Regs::Modern { common: c, .. } => set_msix_vector(c, false, source, vector),
            Regs::Legacy { io } => set_msix_vector(io, true, source, vector),
        };
        r.map_err(|e| match e {
            VectorError::Refused { .. } => EBUSY,
            VectorError::Io(_) => EIO,
        })
    }

    /// Notifies the device about queue `index`.
    pub fn notify_queue(&self, index: u16, data: Option<NotifyData>) -> Result {
        self.notify_at(index, self.notify_offset(index)?, data)
    }

    /// Where in the notification region queue `index` is notified (modern;
    /// 0 on a legacy interface, which has one register), as `setup_queue`
    /// recorded it: a queue looks it up once (see
    /// [`DeviceTransport::doorbell`](crate::kvirtio::transport::DeviceTransport::doorbell)).
    pub fn notify_offset(&self, index: u16) -> Result<u32> {
        match &self.regs {
            Regs::Modern { .. } => Ok(self
                .notify_offs
                .get(usize::from(index))
                .ok_or(EINVAL)?
                .load(Relaxed)),
            Regs::Legacy { .. } => Ok(0),
        }
    }

    /// Notifies the device about queue `index` at `off`, its
    /// [`PciTransport::notify_offset`] (`&self`: the hot path; the region's
    /// accessor checks the offset against the mapping, as every access).
    #[inline]
    pub fn notify_at(&self, index: u16, off: u32, data: Option<NotifyData>) -> Result {
        match &self.regs {
            // CAST: a `u32` offset into a mapping of at most 4 GiB.
            Regs::Modern { notify, .. } => match data {
                Some(d) => notify.write32(off as usize, d.to_u32(index)),
                None => notify.write16(off as usize, index),
            },
            Regs::Legacy { io } => io.write16(legacy::QUEUE_NOTIFY, index),
        }
    }

    /// Reads (and so clears) the ISR status (`&self`: interrupt handlers).
    /// All-ones (the device is gone) reads as no cause.
    pub fn read_isr(&self) -> Result<InterruptStatus> {
        let v = match &self.regs {
            Regs::Modern { isr, .. } => isr.read8(0)?,
            Regs::Legacy { io } => io.read8(legacy::ISR)?,
        };
        Ok(InterruptStatus::from_bits(if v == 0xff { 0 } else { v }))
    }

    /// Stops the device's DMA (bus mastering off), for surprise removal
    /// and a device that does not reset. Returns `true`: the function can
    /// no longer master the bus (as far as it honours its command
    /// register; an IOMMU is what confines a device that does not).
    pub fn stop_dma(&self) -> bool {
        self.enabled.clear_master();
        true
    }

    fn status_raw(&self) -> Result<u8> {
        match &self.regs {
            Regs::Modern { common: c, .. } => c.read8(common::DEVICE_STATUS),
            Regs::Legacy { io } => io.read8(legacy::STATUS),
        }
    }

    fn set_status_raw(&self, v: u8) -> Result {
        match &self.regs {
            Regs::Modern { common: c, .. } => c.write8(common::DEVICE_STATUS, v),
            Regs::Legacy { io } => io.write8(legacy::STATUS, v),
        }
    }

    /// The device configuration: the device configuration capability's
    /// region (modern), or the I/O BAR 0 at offset 20 or, with MSI-X, 24
    /// (legacy); fields in the interface's byte order.
    fn config(&self) -> Result<ConfigWindow<'_, IoRegion>, TransportError> {
        let order = self.kind().byte_order();
        match &self.regs {
            Regs::Modern { device, .. } => device
                .as_ref()
                .map(|d| ConfigWindow::new(d, 0, order))
                .ok_or(TransportError::OutOfRange),
            Regs::Legacy { io } => Ok(ConfigWindow::legacy(io, self.msix(), order)),
        }
    }
}

impl Transport for PciTransport {
    fn kind(&self) -> TransportKind {
        if self.is_legacy() {
            TransportKind::PciLegacy
        } else {
            TransportKind::PciModern
        }
    }

    fn device_id(&self) -> DeviceId {
        self.device_id
    }

    fn read_status(&self) -> Result<Status, TransportError> {
        self.status_raw().map(Status::from_bits).map_err(io_err)
    }

    fn write_status(&self, status: Status) -> Result<(), TransportError> {
        self.set_status_raw(status.bits()).map_err(io_err)
    }

    fn config_generation(&self) -> Result<u32, TransportError> {
        match &self.regs {
            Regs::Modern { common: c, .. } => c
                .read8(common::CONFIG_GENERATION)
                .map(u32::from)
                .map_err(io_err),
            Regs::Legacy { .. } => Ok(0),
        }
    }

    fn read_config_u8(&self, offset: usize) -> Result<u8, TransportError> {
        self.config()?.read_u8(offset)
    }

    fn read_config_u16(&self, offset: usize) -> Result<u16, TransportError> {
        self.config()?.read_u16(offset)
    }

    fn read_config_u32(&self, offset: usize) -> Result<u32, TransportError> {
        self.config()?.read_u32(offset)
    }

    fn read_config_u64(&self, offset: usize) -> Result<u64, TransportError> {
        // Two 32-bit reads, low half first (§4.1.3.1); the caller's
        // generation check makes the pair consistent.
        self.config()?.read_u64(offset)
    }

    fn write_config_u8(&self, offset: usize, value: u8) -> Result<(), TransportError> {
        self.config()?.write_u8(offset, value)
    }

    fn write_config_u16(&self, offset: usize, value: u16) -> Result<(), TransportError> {
        self.config()?.write_u16(offset, value)
    }

    fn write_config_u32(&self, offset: usize, value: u32) -> Result<(), TransportError> {
        self.config()?.write_u32(offset, value)
    }

    fn write_config_u64(&self, offset: usize, value: u64) -> Result<(), TransportError> {
        self.config()?.write_u64(offset, value)
    }

    fn notify(&self, index: u16, data: Option<NotifyData>) -> Result<(), TransportError> {
        self.notify_queue(index, data).map_err(io_err)
    }

    fn ack_interrupt(&self) -> Result<InterruptStatus, TransportError> {
        self.read_isr().map_err(io_err)
    }
}

/// The set-up half, on a shared reference (see [`PciTransport`]).
impl TransportSetup for &PciTransport {
    fn num_queues(&mut self) -> Result<Option<u16>, TransportError> {
        Ok(match &self.regs {
            // Read each time: it may change with the features.
            Regs::Modern { common: c, .. } => Some(
                c.read16(common::NUM_QUEUES)
                    .map_err(io_err)?
                    .min(MAX_QUEUES),
            ),
            Regs::Legacy { .. } => None,
        })
    }

    fn read_device_features(&mut self, word: u32) -> Result<u32, TransportError> {
        match &self.regs {
            Regs::Modern { common: c, .. } => {
                c.write32(common::DEVICE_FEATURE_SELECT, word)
                    .map_err(io_err)?;
                c.read32(common::DEVICE_FEATURE).map_err(io_err)
            }
            Regs::Legacy { io } if word == 0 => io.read32(legacy::HOST_FEATURES).map_err(io_err),
            Regs::Legacy { .. } => Ok(0),
        }
    }

    fn write_driver_features(&mut self, word: u32, value: u32) -> Result<(), TransportError> {
        match &self.regs {
            Regs::Modern { common: c, .. } => {
                c.write32(common::DRIVER_FEATURE_SELECT, word)
                    .map_err(io_err)?;
                c.write32(common::DRIVER_FEATURE, value).map_err(io_err)
            }
            Regs::Legacy { io } if word == 0 => {
                io.write32(legacy::GUEST_FEATURES, value).map_err(io_err)
            }
            Regs::Legacy { .. } if value == 0 => Ok(()),
            Regs::Legacy { .. } => Err(TransportError::NotSupported),
        }
    }

    fn max_queue_size(&mut self, index: u16) -> Result<u16, TransportError> {
        match &self.regs {
            Regs::Modern { common: c, .. } => {
                if index >= MAX_QUEUES || index >= c.read16(common::NUM_QUEUES).map_err(io_err)? {
                    return Ok(0);
                }
                c.write16(common::QUEUE_SELECT, index).map_err(io_err)?;
                c.read16(common::QUEUE_SIZE).map_err(io_err)
            }
            Regs::Legacy { io } => {
                io.write16(legacy::QUEUE_SEL, index).map_err(io_err)?;
                io.read16(legacy::QUEUE_NUM).map_err(io_err)
            }
        }
    }

    fn setup_queue(&mut self, index: u16, cfg: &QueueConfig) -> Result<(), TransportError> {
        match &self.regs {
            Regs::Modern {
                common: c,
                caps,
                notify,
                ..
            } => {
                c.write16(common::QUEUE_SELECT, index).map_err(io_err)?;
                c.write16(common::QUEUE_SIZE, cfg.size).map_err(io_err)?;
                for ((lo, hi), v) in common::QUEUE_ADDR_HALVES
                    .into_iter()
                    .zip([cfg.desc, cfg.driver, cfg.device])
                {
                    // CAST: the low and high halves of the address.
                    c.write32(lo, v as u32).map_err(io_err)?;
                    c.write32(hi, (v >> 32) as u32).map_err(io_err)?;
                }
                let qoff = c.read16(common::QUEUE_NOTIFY_OFF).map_err(io_err)?;
                // Room for a 32-bit write covers notification data too.
                let width = if notify.len() >= 4 { 4 } else { 2 };
                let off = caps
                    .notify_offset(qoff, width)
                    .or_else(|| caps.notify_offset(qoff, 2))
                    .ok_or(TransportError::OutOfRange)?;
                self.notify_offs
                    .get(usize::from(index))
                    .ok_or(TransportError::NoQueue)?
                    .store(off, Relaxed);
                Ok(())
            }
            Regs::Legacy { io } => {
                if cfg.legacy_align != legacy::VRING_ALIGN as u32 || cfg.desc & 0xfff != 0 {
                    return Err(TransportError::InvalidQueue);
                }
                let pfn = cfg.desc >> legacy::QUEUE_ADDR_SHIFT;
                let pfn = u32::try_from(pfn).map_err(|_| TransportError::InvalidQueue)?;
                io.write16(legacy::QUEUE_SEL, index).map_err(io_err)?;
                io.write32(legacy::QUEUE_PFN, pfn).map_err(io_err)
            }
        }
    }

    fn enable_queue(&mut self, index: u16) -> Result<(), TransportError> {
        match &self.regs {
            Regs::Modern { common: c, .. } => {
                c.write16(common::QUEUE_SELECT, index).map_err(io_err)?;
                c.write16(common::QUEUE_ENABLE, 1).map_err(io_err)
            }
            // A legacy queue is live once its PFN is written.
            Regs::Legacy { .. } => Ok(()),
        }
    }

    fn release_queue(&mut self, index: u16) -> Result<(), TransportError> {
        match &self.regs {
            // Only a device reset (or a queue reset) releases a modern
            // queue; the driver must not write 0 to queue_enable.
            Regs::Modern { .. } => Ok(()),
            Regs::Legacy { io } => {
                io.write16(legacy::QUEUE_SEL, index).map_err(io_err)?;
                io.write32(legacy::QUEUE_PFN, 0).map_err(io_err)
            }
        }
    }
}
