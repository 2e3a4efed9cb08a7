// SPDX-License-Identifier: GPL-2.0

//! The transport of one device, whatever bus it is on.
//!
//! Each bus implements the core's two transport traits once: the run-time
//! half [`Transport`] (`&self`: status, reset, configuration, notify,
//! interrupt acknowledge) on the bus's transport type, and the set-up half
//! [`TransportSetup`] (features, queues) on a shared reference to it.
//! [`AnyTransport`] names the buses a module supports; [`DeviceTransport`]
//! is what the framework shares (in an `Arc`) between a device's queues,
//! its configuration and status handles and its interrupt handlers.
//!
//! Register access is revocable: when the device is removed, the framework
//! resets it and then revokes the transport, which unmaps its registers
//! (and for PCI releases the BARs and disables the device). A handle a
//! driver kept past removal (an open disk's configuration, say) then gets
//! `EIO` (`TransportError::Io`) instead of touching a device that may have
//! gone to another driver. Accesses run under the RCU read lock, so none
//! of them sleeps.

use crate::virtio::{
    features::Features,
    queue::{NotifyData, QueueConfig},
    spec::{DeviceId, Status},
    transport::{InterruptStatus, Transport, TransportError, TransportKind, TransportSetup},
};
use kernel::{prelude::*, revocable::Revocable};

use super::{mmio::MmioTransport, pci::PciTransport};
use crate::virtio::mmio::ShmRegion;

/// The buses this module can drive a device on.
pub enum AnyTransport {
    /// Virtio over PCI (modern or legacy).
    Pci(PciTransport),
    /// Virtio over MMIO (version 2 or legacy version 1).
    Mmio(MmioTransport),
}

/// Runs `$e` with `$t` bound to the bus transport of `$any`.
macro_rules! on_bus {
    ($any:expr, $t:ident => $e:expr) => {
        match $any {
            AnyTransport::Pci($t) => $e,
            AnyTransport::Mmio($t) => $e,
        }
    };
}

/// Where the notifications of one queue go ([`DeviceTransport::doorbell`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Doorbell {
    index: u16,
    notify_data: bool,
    /// The bus's place for the queue: PCI modern, the offset in the
    /// notification region; otherwise unused.
    at: u32,
}

/// The transport of one device, shared by everything that talks to it
/// (see the [module documentation](self)).
#[pin_data]
pub struct DeviceTransport {
    kind: TransportKind,
    device_id: DeviceId,
    #[pin]
    bus: Revocable<AnyTransport>,
}

impl DeviceTransport {
    /// Wraps a bus transport.
    pub fn new(bus: AnyTransport) -> impl PinInit<Self, Error> {
        let (kind, device_id) = on_bus!(&bus, t => (t.kind(), t.device_id()));
        try_pin_init!(Self {
            kind,
            device_id,
            bus <- Revocable::new(Ok::<_, Error>(bus)),
        }? Error)
    }

    /// Runs `f` on the bus transport, or fails with `Io` once revoked.
    #[inline]
    fn with<R>(
        &self,
        f: impl FnOnce(&AnyTransport) -> Result<R, TransportError>,
    ) -> Result<R, TransportError> {
        self.bus
            .try_access_with(f)
            .unwrap_or(Err(TransportError::Io))
    }

    /// Runs `f` on the PCI transport; `ENODEV` on another bus or once
    /// revoked.
    pub fn with_pci<R>(&self, f: impl FnOnce(&PciTransport) -> Result<R>) -> Result<R> {
        self.bus
            .try_access_with(|b| match b {
                AnyTransport::Pci(p) => f(p),
                _ => Err(ENODEV),
            })
            .unwrap_or(Err(ENODEV))
    }

    /// Shared memory region `id` of the device (§2.10), `None` if it has
    /// none: virtio-mmio version 2 `SHMSel`/`SHMLen`/`SHMBase`; other
    /// transports do not describe regions yet. Uses a selector register:
    /// call it during probe only.
    pub fn shared_memory(&self, id: u8) -> Result<Option<ShmRegion>> {
        self.with(|b| match b {
            AnyTransport::Mmio(m) => m.shared_memory(id),
            AnyTransport::Pci(_) => Ok(None),
        })
        .map_err(super::errno::transport)
    }

    /// Stops the device's DMA without its cooperation (PCI: bus mastering
    /// off), for a device that does not come out of reset. Returns whether
    /// it could: `false` on a bus without the means (virtio-mmio) and once
    /// revoked.
    pub fn stop_dma(&self) -> bool {
        self.with(|b| Ok(on_bus!(b, t => t.stop_dma())))
            .unwrap_or(false)
    }

    /// The doorbell of queue `index`, looked up once, after the queue was
    /// set up: notifying through it ([`DeviceTransport::ring`]) does no
    /// per-queue lookup. With `notify_data`, notifications carry
    /// `VIRTIO_F_NOTIFICATION_DATA`'s value.
    pub(crate) fn doorbell(&self, index: u16, notify_data: bool) -> Result<Doorbell> {
        let at = self
            .with(|b| match b {
                AnyTransport::Pci(p) => p.notify_offset(index).map_err(|_| TransportError::Io),
                AnyTransport::Mmio(_) => Ok(0),
            })
            .map_err(super::errno::transport)?;
        Ok(Doorbell {
            index,
            notify_data,
            at,
        })
    }

    /// Notifies the device through a queue's doorbell; `data` is the
    /// notification data, sent when the queue negotiated it. Like every
    /// access, it fails with `Io` once the transport is revoked: the RCU
    /// read lock and the revocation flag are the whole cost of that.
    /// The guard is taken here rather than through `with` so that the
    /// whole path inlines into the caller.
    #[inline(always)]
    pub(crate) fn ring(&self, bell: &Doorbell, data: NotifyData) -> Result<(), TransportError> {
        let data = bell.notify_data.then_some(data);
        let guard = kernel::sync::rcu::read_lock();
        match self.bus.try_access_with_guard(&guard) {
            Some(AnyTransport::Pci(p)) => p
                .notify_at(bell.index, bell.at, data)
                .map_err(|_| TransportError::Io),
            Some(AnyTransport::Mmio(m)) => m.notify(bell.index, data),
            None => Err(TransportError::Io),
        }
    }

    /// Revokes register access (see the [module documentation](self)).
    /// Waits for accesses in progress to finish.
    pub fn revoke(&self) {
        self.bus.revoke();
    }
}

impl Transport for DeviceTransport {
    fn kind(&self) -> TransportKind {
        self.kind
    }

    fn device_id(&self) -> DeviceId {
        self.device_id
    }

    fn read_status(&self) -> Result<Status, TransportError> {
        self.with(|b| on_bus!(b, t => t.read_status()))
    }

    fn write_status(&self, status: Status) -> Result<(), TransportError> {
        self.with(|b| on_bus!(b, t => t.write_status(status)))
    }

    fn reset(&self) -> Result<(), TransportError> {
        self.with(|b| on_bus!(b, t => t.reset()))
    }

    fn reset_poll_delay(&self) {
        // Outside the RCU read lock: it sleeps.
        kernel::time::delay::fsleep(kernel::time::Delta::from_micros(100));
    }

    fn config_generation(&self) -> Result<u32, TransportError> {
        self.with(|b| on_bus!(b, t => t.config_generation()))
    }

    fn read_config_u8(&self, offset: usize) -> Result<u8, TransportError> {
        self.with(|b| on_bus!(b, t => t.read_config_u8(offset)))
    }

    fn read_config_u16(&self, offset: usize) -> Result<u16, TransportError> {
        self.with(|b| on_bus!(b, t => t.read_config_u16(offset)))
    }

    fn read_config_u32(&self, offset: usize) -> Result<u32, TransportError> {
        self.with(|b| on_bus!(b, t => t.read_config_u32(offset)))
    }

    fn read_config_u64(&self, offset: usize) -> Result<u64, TransportError> {
        self.with(|b| on_bus!(b, t => t.read_config_u64(offset)))
    }

    fn write_config_u8(&self, offset: usize, value: u8) -> Result<(), TransportError> {
        self.with(|b| on_bus!(b, t => t.write_config_u8(offset, value)))
    }

    fn write_config_u16(&self, offset: usize, value: u16) -> Result<(), TransportError> {
        self.with(|b| on_bus!(b, t => t.write_config_u16(offset, value)))
    }

    fn write_config_u32(&self, offset: usize, value: u32) -> Result<(), TransportError> {
        self.with(|b| on_bus!(b, t => t.write_config_u32(offset, value)))
    }

    fn write_config_u64(&self, offset: usize, value: u64) -> Result<(), TransportError> {
        self.with(|b| on_bus!(b, t => t.write_config_u64(offset, value)))
    }

    #[inline]
    fn notify(&self, index: u16, data: Option<NotifyData>) -> Result<(), TransportError> {
        self.with(|b| on_bus!(b, t => t.notify(index, data)))
    }

    fn ack_interrupt(&self) -> Result<InterruptStatus, TransportError> {
        self.with(|b| on_bus!(b, t => t.ack_interrupt()))
    }
}

/// The set-up half, on a shared reference: the framework reaches it only
/// through the core's `DeviceInit`, during probe, which the driver core
/// serialises.
impl TransportSetup for &DeviceTransport {
    fn supported_features(&self) -> Features {
        self.with(|b| Ok(on_bus!(b, t => (&t).supported_features())))
            .unwrap_or(Features::EMPTY)
    }

    fn read_device_features(&mut self, word: u32) -> Result<u32, TransportError> {
        self.with(|b| on_bus!(b, t => (&mut &*t).read_device_features(word)))
    }

    fn write_driver_features(&mut self, word: u32, value: u32) -> Result<(), TransportError> {
        self.with(|b| on_bus!(b, t => (&mut &*t).write_driver_features(word, value)))
    }

    fn num_queues(&mut self) -> Result<Option<u16>, TransportError> {
        self.with(|b| on_bus!(b, t => (&mut &*t).num_queues()))
    }

    fn max_queue_size(&mut self, index: u16) -> Result<u16, TransportError> {
        self.with(|b| on_bus!(b, t => (&mut &*t).max_queue_size(index)))
    }

    fn setup_queue(&mut self, index: u16, config: &QueueConfig) -> Result<(), TransportError> {
        self.with(|b| on_bus!(b, t => (&mut &*t).setup_queue(index, config)))
    }

    fn enable_queue(&mut self, index: u16) -> Result<(), TransportError> {
        self.with(|b| on_bus!(b, t => (&mut &*t).enable_queue(index)))
    }

    fn release_queue(&mut self, index: u16) -> Result<(), TransportError> {
        self.with(|b| on_bus!(b, t => (&mut &*t).release_queue(index)))
    }
}
