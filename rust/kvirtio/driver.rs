// SPDX-License-Identifier: GPL-2.0

//! Virtio device drivers: the [`Driver`] trait a driver implements, the
//! [`Setup`] it gets during probe, and the transport-neutral probe and
//! removal sequence that every bus adapter runs.
//!
//! A driver states its device type and features once and implements
//! `probe`, `ready`, `queue_interrupt` and `remove`; it never learns
//! which transport it is on. The sequence is the spec's (§3.1.1):
//!
//! 1. the bus adapter (PCI, MMIO) checks the device, maps its transport
//!    and sets the DMA masks, then calls [`probe`] with the
//!    [`DeviceTransport`] and its [`Interrupts`];
//! 2. reset, ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK (read
//!    back) through the core's `DeviceInit`, which also decides how the
//!    device addresses memory (`virtio::dma`: physical addresses, or the
//!    DMA API with `ACCESS_PLATFORM`), and refuses a device without
//!    `ACCESS_PLATFORM` in a guest that restricts memory access;
//! 3. [`Driver::probe`] reads the configuration and calls
//!    [`Setup::find_queues`], which routes the interrupts as the bus can
//!    (a vector per queue, one for all queues, or one line), creates the
//!    rings and programs them;
//! 4. the interrupt handlers are requested, then DRIVER_OK is set, then
//!    [`Driver::ready`] registers the driver with its subsystem.
//!
//! Any failure sets FAILED and unwinds. Removal calls [`Driver::remove`],
//! resets the device (so it stops all DMA), frees the interrupts, drops
//! the driver data (the queues hand every buffer still in flight back;
//! dropping it unmaps and frees it), and finally revokes the transport, so
//! a handle the driver kept cannot reach the device any more.

use super::{
    config::DeviceConfig,
    debugfs::DeviceDebugfs,
    errno,
    irq::{Handler, Interrupts, Role, Routing, Shared},
    platform::{KernelPlatform, Ring},
    queue::{Queue, QueueInfo, QueueSpec, UsedPeek},
    status::{DeviceStatus, RESET_POLLS},
    transport::DeviceTransport,
};
use crate::{
    kext::{
        dma::{self, DmaDevice},
        irq::IrqRegistration,
    },
    virtio::{
        config::{read_consistent, ConfigReader, DEFAULT_CONFIG_RETRIES},
        dma::{Addressing, AddressingError},
        features::{DriverFeatures, Feature, Features},
        init::{reset_device, stop_device, DeviceInit, InitError, InitOptions},
        layout::SplitLayout,
        queue::{QueueOptions, Virtqueue},
        spec::DeviceId,
        split::SplitQueue,
        transport::{pick_queue_size, Transport, TransportError, TransportKind, TransportSetup},
        wire::ByteOrder,
    },
};
use kernel::{
    device::{Bound, Device},
    prelude::*,
    sync::Arc, //
};

/// A virtio device driver.
pub trait Driver: Sized + Send + Sync + 'static {
    /// The virtio device type it drives.
    const DEVICE_ID: DeviceId;
    /// Its name: interrupt names, resource claims, messages.
    const NAME: &'static CStr;
    /// The device-specific features it can use, with their dependencies.
    const FEATURES: DriverFeatures<'static>;
    /// Per-device driver state.
    type Data: Send + Sync;
    /// Whether the bus spreads per-queue interrupt vectors over the CPUs
    /// itself (managed affinity, as blk-mq wants); a driver that places
    /// them ([`Setup::queue_irq`] and `kext::irq::set_affinity`, as the
    /// network driver does per queue pair) says `false`.
    const SPREAD_QUEUE_IRQS: bool = true;

    /// Whether to use the legacy interface of a transitional PCI device
    /// even when it has a modern one (a `force_legacy` module parameter).
    fn force_legacy() -> bool {
        false
    }

    /// Sets the device up: reads its configuration, finds its queues.
    /// Runs after FEATURES_OK and before DRIVER_OK; the device is not live
    /// yet, so nothing may be added to the queues.
    fn probe(setup: &mut Setup<'_>) -> Result<Self::Data>;

    /// Called once the device is live (after DRIVER_OK): register with the
    /// subsystem, fill receive queues.
    fn ready(data: &Self::Data, dev: &Device<Bound>) -> Result {
        let _ = (data, dev);
        Ok(())
    }

    /// Queue `queue` has used buffers. Runs in hardirq context: must not
    /// sleep.
    fn queue_interrupt(data: &Self::Data, queue: u16);

    /// The device configuration changed. Runs in hardirq context.
    fn config_changed(data: &Self::Data) {
        let _ = data;
    }

    /// The device is going away: unregister from the subsystem and wake
    /// anyone waiting on the device. The device is reset after this
    /// returns, then the data is dropped.
    fn remove(data: &Self::Data) {
        let _ = data;
    }
}

/// The device during probe, for [`Driver::probe`].
pub struct Setup<'a> {
    dev: &'a Device<Bound>,
    init: DeviceInit<'a, &'a DeviceTransport>,
    transport: Arc<DeviceTransport>,
    interrupts: KBox<dyn Interrupts>,
    features: Features,
    addressing: Addressing,
    routing: Option<Routing>,
    nqueues: u16,
    callbacks: KVec<u16>,
    queues: KVec<Option<Arc<dyn QueueInfo>>>,
    spread: bool,
}

impl<'a> Setup<'a> {
    /// The device.
    pub fn device(&self) -> &Device<Bound> {
        self.dev
    }

    /// The negotiated features.
    pub fn features(&self) -> Features {
        self.features
    }

    /// Whether `f` was negotiated.
    pub fn has_feature(&self, f: Feature) -> bool {
        self.features.contains(f)
    }

    /// How the device addresses memory (the core's decision from the
    /// negotiated features): the queues' rings follow it, and so must
    /// every buffer the driver maps ([`Setup::dma`]).
    pub fn addressing(&self) -> Addressing {
        self.addressing
    }

    /// The device with its addressing, to map buffers for it.
    pub fn dma(&self) -> DmaDevice {
        DmaDevice::new(self.dev, self.addressing.uses_dma_api())
    }

    /// The largest buffer segment the driver may hand the device: the DMA
    /// layer's largest mapping when the DMA API is used (256 KiB under
    /// swiotlb), no bound with physical addresses (as the C core's
    /// `virtio_max_dma_size()`).
    pub fn max_dma_segment(&self) -> u32 {
        self.addressing.max_segment(dma::max_mapping_size(self.dev))
    }

    /// Sets the largest segment the DMA API may make for the device, also
    /// where an IOMMU merges the entries of a scatterlist
    /// (`dma_set_max_seg_size()`): a driver whose device limits segments
    /// (virtio-blk's `size_max`) sets it to that limit. The bus adapter's
    /// default is no limit (`u32::MAX`).
    pub fn set_max_dma_segment(&self, size: u32) -> Result {
        dma::set_max_segment_size(self.dev, size)
    }

    /// Whether the device speaks a legacy interface (no VERSION_1).
    pub fn is_legacy(&self) -> bool {
        self.transport.kind().is_legacy()
    }

    /// The device configuration, for reads after probe.
    pub fn device_config(&self) -> Result<Arc<DeviceConfig>> {
        Ok(Arc::new(
            DeviceConfig::new(self.transport.clone()),
            GFP_KERNEL,
        )?)
    }

    /// The device status, for the driver's own failure handling.
    pub fn device_status(&self) -> Result<Arc<DeviceStatus>> {
        Ok(Arc::new(
            DeviceStatus::new(self.transport.clone()),
            GFP_KERNEL,
        )?)
    }

    /// Shared memory region `id` of the device (§2.10), `None` if it has
    /// none (see [`DeviceTransport::shared_memory`]).
    pub fn shared_memory(&self, id: u8) -> Result<Option<crate::virtio::mmio::ShmRegion>> {
        self.transport.shared_memory(id)
    }

    /// How interrupts were routed (after [`Setup::find_queues`]).
    pub fn routing(&self) -> Option<Routing> {
        self.routing
    }

    /// The vector of queue 0 when each queue has its own vector (queue `i`
    /// on vector `offset + i`) spread over the CPUs with managed affinity,
    /// for subsystems that map CPUs to queues by interrupt affinity
    /// (blk-mq); `None` otherwise. After [`Setup::find_queues`].
    pub fn queue_vector_offset(&self) -> Option<u32> {
        // The bus spreads the per-queue vectors with more than one queue;
        // vector 0 is the configuration vector.
        let all = usize::from(self.nqueues) == self.callbacks.len();
        (self.routing == Some(Routing::PerQueue) && self.nqueues > 1 && all).then_some(1)
    }

    /// The Linux interrupt number of queue `index`'s own vector (per-queue
    /// routing), for the driver to place it ([`Driver::SPREAD_QUEUE_IRQS`]);
    /// `None` when the queue shares its interrupt or has none. After
    /// [`Setup::find_queues`]; the number stays the queue's until the
    /// driver's data is dropped (the vectors are freed after it).
    pub fn queue_irq(&self, index: u16) -> Option<crate::kext::irq::IrqNumber> {
        if self.routing != Some(Routing::PerQueue) {
            return None;
        }
        let k = self.callbacks.iter().position(|&i| i == index)?;
        let v = self.routing?.queue_vector(u16::try_from(k).ok()?)?;
        let irq = self.interrupts.irq(v).ok()?;
        // SAFETY: the device's vector, allocated until `Probed` drops
        // `_interrupts`, after the driver's data that may hold it.
        Some(unsafe { crate::kext::irq::IrqNumber::new(irq) })
    }

    /// Reads the device configuration consistently (retrying across
    /// generation changes, bounded).
    pub fn read_config<R, F>(&mut self, read: F) -> Result<R>
    where
        R: PartialEq,
        F: FnMut(&mut ConfigReader<'_, DeviceTransport>) -> Result<R, TransportError>,
    {
        read_consistent(&*self.transport, DEFAULT_CONFIG_RETRIES, read).map_err(errno::config)
    }

    /// Writes a byte of device configuration (allowed after FEATURES_OK).
    pub fn write_config_u8(&mut self, offset: usize, value: u8) -> Result {
        self.init
            .write_config_u8(offset, value)
            .map_err(errno::init)
    }

    /// Creates one queue per spec (queue `i` from `specs[i]`), and routes
    /// their interrupts as the bus can. Call once. A driver with several
    /// kinds of buffers uses an enum as the token type `T`.
    pub fn find_queues<T: Send + 'static>(
        &mut self,
        specs: &[QueueSpec],
    ) -> Result<KVec<Arc<Queue<T>>>> {
        let count = u16::try_from(specs.len()).map_err(|_| EINVAL)?;
        if self.nqueues != 0 || count == 0 {
            return Err(EINVAL);
        }
        if let Some(n) = self
            .init
            .transport()
            .map_err(errno::init)?
            .num_queues()
            .map_err(errno::transport)?
        {
            if n < count {
                return Err(ENOENT);
            }
        }
        let mut callbacks = KVec::new();
        for (i, s) in (0..count).zip(specs.iter()) {
            if s.callback {
                callbacks.push(i, GFP_KERNEL)?;
            }
        }
        // CAST: at most `count` entries.
        let ncb = callbacks.len() as u16;
        let mut last = ENODEV;
        for &routing in self.interrupts.routings() {
            if let Err(e) =
                self.interrupts
                    .alloc(self.dev, &self.transport, ncb, routing, self.spread)
            {
                last = e;
                continue;
            }
            match self.make_queues(specs, routing) {
                Ok(q) => {
                    self.nqueues = count;
                    self.routing = Some(routing);
                    self.callbacks = callbacks;
                    return Ok(q);
                }
                Err(e) => last = e,
            }
            // Undo the routing before trying the next way; the queues made
            // so far were dropped, and the device forgets them at the
            // next reset.
            self.interrupts.undo(&self.transport);
        }
        Err(last)
    }

    fn make_queues<T: Send + 'static>(
        &mut self,
        specs: &[QueueSpec],
        routing: Routing,
    ) -> Result<KVec<Arc<Queue<T>>>> {
        let kind = self.transport.kind();
        let features = self.features;
        let addressing = self.addressing;
        let dev = self.dev;
        let mut queues = KVec::with_capacity(specs.len(), GFP_KERNEL)?;
        let mut infos = KVec::with_capacity(specs.len(), GFP_KERNEL)?;
        let mut k = 0u16;
        for (i, spec) in (0u16..).zip(specs.iter()) {
            if spec.is_unused() {
                // Not set up: the device keeps it disabled.
                infos.push(None, GFP_KERNEL)?;
                continue;
            }
            let t = self.init.transport().map_err(errno::init)?;
            let max = t.max_queue_size(i).map_err(errno::transport)?;
            if max == 0 {
                return Err(ENOENT);
            }
            let size = if kind.can_resize_queue() {
                pick_queue_size(max, spec.max_size)
            } else if max.is_power_of_two() {
                // Legacy PCI queues cannot be resized.
                max
            } else {
                return Err(EINVAL);
            };
            let layout = match legacy_align(kind) {
                Some(align) => SplitLayout::legacy(size, align),
                None => SplitLayout::modern(size),
            }
            .map_err(|_| EINVAL)?;
            let ring = Ring::new(dev, addressing, layout.total_size())?;
            // A queue whose interrupt serves others too is looked at without
            // its lock (`QueueInfo::more_used`).
            let peek = (routing != Routing::PerQueue).then(|| {
                // SAFETY: the view of this ring's memory goes to the queue
                // that owns the ring (through `sq`), and is dropped with it.
                unsafe {
                    UsedPeek::new(
                        ring.device_view(),
                        layout.used_idx(),
                        ByteOrder::for_interface(kind.is_legacy()),
                    )
                }
            });
            let indirect = features.contains(Feature::INDIRECT_DESC) && spec.max_indirect > 1;
            let platform = if indirect {
                KernelPlatform::with_indirect(dev, addressing, size, spec.max_indirect)?
            } else {
                KernelPlatform::new()
            };
            let mut opts = QueueOptions::from_features(features, kind.is_legacy());
            opts.indirect = indirect;
            opts.max_indirect = spec.max_indirect;
            let mut sq = SplitQueue::<KernelPlatform, T>::new(platform, ring, layout, opts)
                .map_err(|_| ENOMEM)?;
            let vector = if spec.callback {
                let v = routing.queue_vector(k);
                k = k.saturating_add(1);
                v
            } else {
                // No interrupts wanted: ask the device for none either.
                sq.disable_cb();
                None
            };
            let t = self.init.transport().map_err(errno::init)?;
            t.setup_queue(i, &sq.config()).map_err(errno::transport)?;
            self.interrupts.route_queue(&self.transport, i, vector)?;
            let t = self.init.transport().map_err(errno::init)?;
            t.enable_queue(i).map_err(errno::transport)?;
            let notify_data = features.contains(Feature::NOTIFICATION_DATA);
            let doorbell = self.transport.doorbell(i, notify_data)?;
            let q = Arc::pin_init(
                Queue::new(sq, self.transport.clone(), doorbell, i, peek),
                GFP_KERNEL,
            )?;
            let info: Arc<dyn QueueInfo> = q.clone();
            infos.push(Some(info), GFP_KERNEL)?;
            queues.push(q, GFP_KERNEL)?;
        }
        self.queues = infos;
        Ok(queues)
    }
}

/// The queue alignment of the legacy ring layout, `None` for the modern
/// layout.
fn legacy_align(kind: TransportKind) -> Option<usize> {
    match kind {
        // The legacy PCI ring is aligned to 4 KiB (§4.1.5.1.3.1); the
        // MMIO v1 driver writes QueueAlign itself and uses a page, as the
        // C driver does.
        TransportKind::PciLegacy => Some(crate::virtio::pci::legacy::VRING_ALIGN),
        TransportKind::MmioLegacy | TransportKind::CcwLegacy => Some(4096),
        _ => None,
    }
}

/// Revokes the transport when dropped: the last field of [`Probed`], so
/// it happens after everything else was released.
struct Revoke(Arc<DeviceTransport>);

impl Drop for Revoke {
    fn drop(&mut self) {
        self.0.revoke();
    }
}

/// A probed virtio device, on any bus.
pub struct Probed<D: Driver> {
    // Field order is drop order: free the interrupts, then the driver
    // data (queues, buffers), then the bus's interrupt vectors, then
    // revoke the transport.
    irqs: KVec<Pin<KBox<IrqRegistration<Handler<D>>>>>,
    _debugfs: Option<DeviceDebugfs>,
    shared: Arc<Shared<D>>,
    _interrupts: KBox<dyn Interrupts>,
    transport: Revoke,
}

impl<D: Driver> Probed<D> {
    /// The driver's data.
    pub fn data(&self) -> &D::Data {
        &self.shared.data
    }
}

impl<D: Driver> Drop for Probed<D> {
    fn drop(&mut self) {
        D::remove(&self.shared.data);
        // Stop the device: no more DMA, no more interrupts. A device that
        // does not come out of reset (surprise removal, a broken device) at
        // least loses bus mastering where the bus has it; where it has not
        // (MMIO), only the driver can keep what the device may still use
        // (rvirtio_blk leaks its disk then, see its fail_all).
        let t = &*self.transport.0;
        if !stop_device(t, RESET_POLLS, || t.stop_dma()).may_reclaim() {
            pr_err!(
                "the device did not reset and its DMA cannot be stopped: memory it may still use is freed unless the driver keeps it\n"
            );
        }
        for irq in self.irqs.iter() {
            irq.synchronize();
        }
        // Every buffer still in flight comes back when the queues are
        // dropped with the driver data (the device, reset, no longer owns
        // them).
    }
}

/// Everything probe sets up before DRIVER_OK, with the device still in
/// FEATURES_OK.
struct Parts<'a, D: Driver> {
    data: D::Data,
    nqueues: u16,
    routing: Option<Routing>,
    callbacks: KVec<u16>,
    init: DeviceInit<'a, &'a DeviceTransport>,
    interrupts: KBox<dyn Interrupts>,
    queues: KVec<Option<Arc<dyn QueueInfo>>>,
}

/// Probes a device for driver `D`: the bus adapter has checked the device
/// type, mapped the transport and set the DMA masks. On failure the
/// device is reset and the transport revoked.
pub fn probe<D: Driver>(
    dev: &Device<Bound>,
    transport: Arc<DeviceTransport>,
    interrupts: KBox<dyn Interrupts>,
) -> Result<Probed<D>> {
    let revoke = Revoke(transport.clone());
    match live::<D>(dev, &transport, interrupts) {
        Ok((shared, irqs, interrupts, debugfs)) => {
            let this = Probed {
                irqs,
                _debugfs: debugfs,
                shared,
                _interrupts: interrupts,
                transport: revoke,
            };
            // On failure `this` is dropped: remove, reset, release.
            D::ready(this.data(), dev)?;
            Ok(this)
        }
        Err(e) => {
            // The device may hold queue addresses of freed rings: make it
            // forget them.
            let _ = reset_device(&*transport, RESET_POLLS);
            drop(revoke);
            Err(e)
        }
    }
}

fn setup_device<'a, D: Driver>(
    dev: &'a Device<Bound>,
    init: DeviceInit<'a, &'a DeviceTransport>,
    transport: &Arc<DeviceTransport>,
    interrupts: KBox<dyn Interrupts>,
) -> Result<Parts<'a, D>> {
    let mut init = init;
    let features = init.negotiate(&D::FEATURES).map_err(|e| {
        match e {
            InitError::Addressing(AddressingError::NeedsAccessPlatform) => dev_err!(
                dev,
                "the guest restricts memory access (confidential computing): the device must offer VIRTIO_F_VERSION_1 and VIRTIO_F_ACCESS_PLATFORM\n"
            ),
            _ => dev_err!(dev, "feature negotiation failed: {:?}\n", e),
        }
        errno::init(e)
    })?;
    let addressing = init.addressing().ok_or(EINVAL)?;
    let mut setup = Setup {
        dev,
        init,
        transport: transport.clone(),
        interrupts,
        features,
        addressing,
        routing: None,
        nqueues: 0,
        callbacks: KVec::new(),
        queues: KVec::new(),
        spread: D::SPREAD_QUEUE_IRQS,
    };
    let data = D::probe(&mut setup);
    let Setup {
        init,
        nqueues,
        routing,
        callbacks,
        interrupts,
        queues,
        ..
    } = setup;
    Ok(Parts {
        data: data?,
        nqueues,
        routing,
        callbacks,
        init,
        interrupts,
        queues,
    })
}

type Irqs<D> = KVec<Pin<KBox<IrqRegistration<Handler<D>>>>>;
type Live<D> = (
    Arc<Shared<D>>,
    Irqs<D>,
    KBox<dyn Interrupts>,
    Option<DeviceDebugfs>,
);

/// Negotiates, sets up, requests the interrupts and sets DRIVER_OK.
fn live<D: Driver>(
    dev: &Device<Bound>,
    transport: &Arc<DeviceTransport>,
    interrupts: KBox<dyn Interrupts>,
) -> Result<Live<D>> {
    let mut handle: &DeviceTransport = transport;
    let opts = InitOptions {
        restricted_memory_access: dma::restricted_memory_access(),
        ..InitOptions::default()
    };
    let init = DeviceInit::begin(&mut handle, opts).map_err(errno::init)?;
    let parts = setup_device::<D>(dev, init, transport, interrupts)?;
    let addressing = parts.init.addressing().ok_or(EINVAL)?;
    let (init, interrupts) = (parts.init, parts.interrupts);
    let offered = init.offered();
    let mut infos = KVec::with_capacity(parts.queues.len(), GFP_KERNEL)?;
    for q in parts.queues.iter().flatten() {
        infos.push(q.clone(), GFP_KERNEL)?;
    }
    let shared = Arc::new(
        Shared::<D> {
            data: parts.data,
            callbacks: parts.callbacks,
            queues: parts.queues,
        },
        GFP_KERNEL,
    )?;

    // Request the handlers before DRIVER_OK, so no interrupt is missed.
    let mut irqs = KVec::new();
    if let Some(routing) = parts.routing {
        let mut roles = KVec::new();
        if routing.is_single_line() {
            roles.push((0, Role::Line(transport.clone())), GFP_KERNEL)?;
        } else {
            roles.push((0, Role::Config), GFP_KERNEL)?;
            if routing == Routing::Shared {
                roles.push((1, Role::AllQueues), GFP_KERNEL)?;
            } else {
                for (k, &i) in (0u16..).zip(shared.callbacks.iter()) {
                    let v = routing.queue_vector(k).ok_or(EINVAL)?;
                    roles.push((v, Role::Queue(i)), GFP_KERNEL)?;
                }
            }
        }
        let shared_line = routing.is_single_line() && interrupts.shared_line();
        for (vec, role) in roles {
            let irq = interrupts.irq(vec)?;
            let h = Handler {
                shared: shared.clone(),
                role,
            };
            let reg = KBox::pin_init(IrqRegistration::new(irq, h), GFP_KERNEL)?;
            reg.as_ref().request(D::NAME, shared_line)?;
            irqs.push(reg, GFP_KERNEL)?;
        }
    }
    let features = init.driver_ok().map_err(errno::init)?;
    dev_info!(
        dev,
        "{}, {} queue(s), {} interrupts, features {:?}, {}\n",
        interface_name(transport.kind()),
        parts.nqueues,
        parts.routing.map_or("no", routing_name),
        features,
        addressing.name()
    );
    // Diagnostics only: a device without its debugfs directory still works.
    let debugfs = DeviceDebugfs::new(dev, transport.clone(), offered, features, addressing, infos)
        .unwrap_or(None);
    Ok((shared, irqs, interrupts, debugfs))
}

/// How the bind message names the interface.
fn interface_name(kind: TransportKind) -> &'static str {
    match kind {
        TransportKind::PciModern => "modern interface",
        TransportKind::PciLegacy => "legacy interface",
        TransportKind::MmioModern => "mmio v2",
        TransportKind::MmioLegacy => "mmio v1",
        TransportKind::CcwModern { .. } => "ccw",
        TransportKind::CcwLegacy => "ccw legacy",
    }
}

fn routing_name(r: Routing) -> &'static str {
    match r {
        Routing::PerQueue => "PerQueue",
        Routing::Shared => "Shared",
        Routing::Intx => "Intx",
        Routing::Line => "Line",
    }
}
