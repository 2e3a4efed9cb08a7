// SPDX-License-Identifier: GPL-2.0

//! Virtio device drivers: the [`Driver`] trait a driver implements, the
//! [`Queue`]s it gets, and the glue that runs it on a PCI device
//! ([`PciAdapter`], registered with [`module_virtio_driver!`]).
//!
//! A driver states its device type and features once and implements
//! `probe`, `ready`, `queue_interrupt` and `remove`; it never sees the
//! transport. The probe sequence is the spec's (§3.1.1):
//!
//! 1. enable the PCI device, pick the modern or legacy interface, set the
//!    DMA mask;
//! 2. reset, ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK (read
//!    back) through the core's `DeviceInit`;
//! 3. [`Driver::probe`] reads the configuration and calls
//!    [`Setup::find_queues`], which allocates interrupt vectors (MSI-X: one
//!    for configuration changes plus one per queue, spread over the CPUs;
//!    else one shared queue vector; else INTx with the ISR register),
//!    creates the rings and programs them;
//! 4. the interrupt handlers are requested, then DRIVER_OK is set, then
//!    [`Driver::ready`] registers the driver with its subsystem.
//!
//! Any failure sets FAILED and unwinds. Removal calls [`Driver::remove`],
//! resets the device (so it stops all DMA), frees the interrupts, then
//! drops the driver data: the queues hand every buffer still in flight back
//! (dropping it unmaps and frees it), and the rings, vectors and mappings
//! are released.

use crate::{
    kext::{
        pci::{IoRegion, IrqHandler, IrqRegistration, IrqReturn, IrqVectors, VectorKind},
        sync::SpinLockIrq,
    },
    kvirtio::{
        pci::PciTransport,
        platform::{KernelPlatform, Ring},
    },
    virtio::{
        features::{DriverFeatures, Feature, Features},
        init::{DeviceInit, InitError, InitOptions},
        layout::SplitLayout,
        pci::MSI_NO_VECTOR,
        queue::{Buf, NotifyData, QueueOptions, RingError, Used, Virtqueue},
        spec::{DeviceId, Status},
        split::SplitQueue,
        transport::{pick_queue_size, Transport, TransportError},
    },
};
use core::marker::PhantomData;
use kernel::{
    device::{Bound, Core, Device},
    dma::{Device as _, DmaMask},
    pci,
    prelude::*,
    sync::Arc, //
};

/// A virtio device driver.
pub trait Driver: Sized + Send + Sync + 'static {
    /// The virtio device type it drives.
    const DEVICE_ID: DeviceId;
    /// Its name: interrupt names, BAR claims, messages.
    const NAME: &'static CStr;
    /// The device-specific features it can use, with their dependencies.
    const FEATURES: DriverFeatures<'static>;
    /// Per-device driver state.
    type Data: Send + Sync;

    /// Whether to use the legacy interface of a transitional device even
    /// when it has a modern one (a `force_legacy` module parameter).
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

/// Maps a ring error to the error a driver's caller sees.
fn ring_errno(e: RingError) -> Error {
    match e {
        RingError::NoSpace => ENOSPC,
        RingError::EmptyChain | RingError::ChainTooLong | RingError::ChainTooLarge => EINVAL,
        RingError::Busy => EBUSY,
        _ => EIO,
    }
}

fn transport_errno(e: TransportError) -> Error {
    match e {
        TransportError::NoQueue => ENOENT,
        TransportError::InvalidQueue | TransportError::OutOfRange => EINVAL,
        TransportError::NotSupported => ENOTSUPP,
        TransportError::Timeout => ETIMEDOUT,
        TransportError::Errno(e) => Error::from_errno(e),
        TransportError::Io => EIO,
    }
}

fn init_errno(e: InitError) -> Error {
    match e {
        InitError::Transport(t) => transport_errno(t),
        InitError::ResetTimeout => ETIMEDOUT,
        InitError::Negotiation(_) | InitError::FeaturesRejected => ENODEV,
        _ => EIO,
    }
}

/// The device status register, mapped on its own so queues can set FAILED
/// when the device breaks the rules.
pub struct DeviceStatus {
    reg: IoRegion,
}

impl DeviceStatus {
    /// Sets FAILED: the driver gave up on the device (spec §2.1).
    pub fn fail(&self) {
        if let Ok(s) = self.reg.read8(0) {
            let _ = self.reg.write8(0, s | Status::FAILED.bits());
        }
    }

    /// Resets the device (writes 0, then waits, bounded, for 0 to read
    /// back): it stops all DMA and interrupts. For drivers that must stop a
    /// device that stopped answering before completing its requests.
    pub fn reset(&self) -> Result {
        self.reg.write8(0, 0)?;
        for _ in 0..1000 {
            if self.reg.read8(0)? == 0 {
                return Ok(());
            }
            kernel::time::delay::fsleep(kernel::time::Delta::from_micros(100));
        }
        Err(ETIMEDOUT)
    }

    /// Whether DRIVER_OK is set (a device that lost it, e.g. after bus
    /// mastering was switched off, no longer processes queues).
    pub fn is_live(&self) -> bool {
        self.reg
            .read8(0)
            .is_ok_and(|s| s != 0xff && s & Status::DRIVER_OK.bits() != 0)
    }

    /// Whether the device asked to be reset, or was marked failed.
    pub fn is_broken(&self) -> bool {
        self.reg.read8(0).is_ok_and(|s| {
            s & (Status::DEVICE_NEEDS_RESET.bits() | Status::FAILED.bits()) != 0 || s == 0xff
        })
    }
}

/// The device configuration of a live device, mapped on its own so a
/// driver can read it after probe (on a configuration change).
pub struct DeviceConfig {
    cfg: IoRegion,
    base: usize,
    generation: Option<IoRegion>,
}

impl DeviceConfig {
    /// Bound on the retries of a read that races configuration changes.
    const RETRIES: u32 = 16;

    fn gen(&self) -> Result<u8> {
        match &self.generation {
            Some(g) => g.read8(0),
            None => Ok(0),
        }
    }

    /// Reads `read` consistently: the generation (modern) or the value
    /// itself (legacy) must not change across the read (spec §2.5.1).
    fn consistent<R: PartialEq + Copy>(
        &self,
        read: impl Fn(&IoRegion, usize) -> Result<R>,
    ) -> Result<R> {
        for _ in 0..Self::RETRIES {
            let g1 = self.gen()?;
            let v = read(&self.cfg, self.base)?;
            let g2 = self.gen()?;
            if g1 != g2 {
                continue;
            }
            if self.generation.is_none() && read(&self.cfg, self.base)? != v {
                continue;
            }
            return Ok(v);
        }
        Err(EAGAIN)
    }

    /// Reads a 64-bit field at `offset` (two 32-bit halves, consistent).
    pub fn read_u64(&self, offset: usize) -> Result<u64> {
        let hi_off = offset.checked_add(4).ok_or(EINVAL)?;
        self.consistent(|c, b| {
            let lo = c.read32(b.checked_add(offset).ok_or(EINVAL)?)?;
            let hi = c.read32(b.checked_add(hi_off).ok_or(EINVAL)?)?;
            Ok(u64::from(lo) | (u64::from(hi) << 32))
        })
    }

    /// Reads a 32-bit field at `offset`.
    pub fn read_u32(&self, offset: usize) -> Result<u32> {
        self.consistent(|c, b| c.read32(b.checked_add(offset).ok_or(EINVAL)?))
    }

    /// Reads a 16-bit field at `offset`.
    pub fn read_u16(&self, offset: usize) -> Result<u16> {
        self.consistent(|c, b| c.read16(b.checked_add(offset).ok_or(EINVAL)?))
    }

    /// Reads a byte at `offset`.
    pub fn read_u8(&self, offset: usize) -> Result<u8> {
        self.consistent(|c, b| c.read8(b.checked_add(offset).ok_or(EINVAL)?))
    }

    /// Writes a byte at `offset` (a driver-writable field, such as
    /// virtio-blk's `writeback`).
    pub fn write_u8(&self, offset: usize, value: u8) -> Result {
        self.cfg
            .write8(self.base.checked_add(offset).ok_or(EINVAL)?, value)
    }
}

/// What a driver asks of a queue.
#[derive(Clone, Copy, Debug)]
pub struct QueueSpec {
    /// The largest size to use (the device's maximum may be smaller).
    pub max_size: u16,
    /// Largest indirect table (0: no indirect descriptors).
    pub max_indirect: u16,
}

impl Default for QueueSpec {
    fn default() -> Self {
        Self {
            max_size: 256,
            max_indirect: 0,
        }
    }
}

/// A virtqueue of a live device, shared by the driver's paths and its
/// interrupt handler (an irqsave spinlock guards the ring).
#[pin_data]
pub struct Queue<T> {
    #[pin]
    vq: SpinLockIrq<SplitQueue<KernelPlatform, T>>,
    notifier: IoRegion,
    notify_data: bool,
    index: u16,
    status: Arc<DeviceStatus>,
}

impl<T: Send> Queue<T> {
    /// The queue's index on the device.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// Number of entries.
    pub fn size(&self) -> u16 {
        self.vq.lock().size()
    }

    fn violation(&self, e: RingError) -> Error {
        if !matches!(
            e,
            RingError::NoSpace
                | RingError::EmptyChain
                | RingError::ChainTooLong
                | RingError::ChainTooLarge
                | RingError::Busy
        ) {
            self.status.fail();
        }
        ring_errno(e)
    }

    /// Exposes a buffer (device-readable `out`, then device-writable
    /// `inb`) without notifying the device. On failure the token comes
    /// back with the error.
    pub fn add(&self, out: &[Buf], inb: &[Buf], token: T) -> Result<(), (Error, T)> {
        let r = self.vq.lock().add(out, inb, token);
        r.map_err(|e| (self.violation(e.error), e.token))
    }

    /// Notifies the device of added buffers, unless it asked not to be.
    pub fn kick(&self) -> Result {
        let kick = {
            let mut vq = self.vq.lock();
            self.prepare_kick(&mut vq)?
        };
        self.notify(kick)
    }

    /// Whether the device wants a notification, and its value; under the
    /// lock.
    #[inline]
    fn prepare_kick(&self, vq: &mut SplitQueue<KernelPlatform, T>) -> Result<Option<NotifyData>> {
        let need = vq.prepare_kick().map_err(|e| self.violation(e))?;
        Ok(need.then(|| vq.notification_data()))
    }

    /// Rings the doorbell (outside the lock) if [`Queue::prepare_kick`] said
    /// so.
    #[inline]
    fn notify(&self, kick: Option<NotifyData>) -> Result {
        if let Some(data) = kick {
            // CAST: the 32-bit notification value, or the queue index.
            if self.notify_data {
                self.notifier.write32(0, data.to_u32(self.index))?;
            } else {
                self.notifier.write16(0, self.index)?;
            }
        }
        Ok(())
    }

    /// [`Queue::add`] then, if `kick`, [`Queue::kick`], in one hold of the
    /// lock (the doorbell is rung after it is released, as `kick` does).
    /// A failed notification cannot hand the token back once the buffer is
    /// in the ring: the device finds it at its next poll or the queue is
    /// torn down with it.
    pub fn add_kick(
        &self,
        out: &[Buf],
        inb: &[Buf],
        token: T,
        kick: bool,
    ) -> Result<(), (Error, T)> {
        let notify = {
            let mut vq = self.vq.lock();
            if let Err(e) = vq.add(out, inb, token) {
                drop(vq);
                return Err((self.violation(e.error), e.token));
            }
            if kick {
                self.prepare_kick(&mut vq).unwrap_or(None)
            } else {
                None
            }
        };
        let _ = self.notify(notify);
        Ok(())
    }

    /// [`Queue::add`] then [`Queue::kick`].
    pub fn add_and_kick(&self, out: &[Buf], inb: &[Buf], token: T) -> Result<(), (Error, T)> {
        self.add_kick(out, inb, token, true)
    }

    /// Returns the next used buffer. A device that breaks the ring rules
    /// fails the device and gets `EIO`.
    pub fn get_used(&self) -> Result<Option<Used<T>>> {
        let r = self.vq.lock().get_used();
        r.map_err(|e| self.violation(e))
    }

    /// Hands every used buffer to `f`, with interrupts re-enabled at the
    /// end and the race with a buffer used meanwhile closed. Bounded: after
    /// twice the queue size buffers it stops and returns `Ok(false)` (more
    /// may be pending: call again later); `Ok(true)` when drained.
    pub fn drain(&self, mut f: impl FnMut(T, u32)) -> Result<bool> {
        let budget = u32::from(self.size()).saturating_mul(2);
        let mut done = 0u32;
        loop {
            self.vq.lock().disable_cb();
            while let Some(u) = self.get_used()? {
                f(u.token, u.len);
                done = done.saturating_add(1);
                if done >= budget {
                    let _ = self.vq.lock().enable_cb();
                    return Ok(false);
                }
            }
            let r = self.vq.lock().enable_cb();
            if r.map_err(|e| self.violation(e))? {
                return Ok(true);
            }
        }
    }

    /// Like [`Queue::drain`], but holds the queue's lock across the whole
    /// loop (one lock round trip per interrupt instead of one per buffer,
    /// as the C driver does). `f` runs with the lock held and interrupts
    /// off: it must not sleep, and must not take a lock that is held while
    /// adding to this queue (that would invert the lock order).
    pub fn drain_locked(&self, mut f: impl FnMut(T, u32)) -> Result<bool> {
        let mut vq = self.vq.lock();
        let budget = u32::from(vq.size()).saturating_mul(2);
        let mut done = 0u32;
        loop {
            vq.disable_cb();
            loop {
                match vq.get_used() {
                    Ok(Some(u)) => {
                        f(u.token, u.len);
                        done = done.saturating_add(1);
                        if done >= budget {
                            let _ = vq.enable_cb();
                            return Ok(false);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        drop(vq);
                        return Err(self.violation(e));
                    }
                }
            }
            match vq.enable_cb() {
                Ok(true) => return Ok(true),
                Ok(false) => continue,
                Err(e) => {
                    drop(vq);
                    return Err(self.violation(e));
                }
            }
        }
    }

    /// Number of free descriptors.
    pub fn num_free(&self) -> u16 {
        self.vq.lock().num_free()
    }

    /// Whether the queue is broken.
    pub fn is_broken(&self) -> bool {
        self.vq.lock().is_broken()
    }

    /// Takes back a buffer still in flight. Only after the device was
    /// reset; the framework calls it on removal.
    pub fn detach_unused(&self) -> Option<T> {
        self.vq.lock().detach_unused()
    }
}

/// How interrupts reach the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// MSI-X: vector 0 for configuration changes, vector `1 + i` for
    /// queue `i`.
    PerQueue,
    /// MSI-X: vector 0 for configuration changes, vector 1 for every queue.
    Shared,
    /// INTx: one shared line; the ISR register tells what happened.
    Intx,
}

/// The device during probe, for [`Driver::probe`].
pub struct Setup<'a> {
    pdev: &'a pci::Device<Bound>,
    init: DeviceInit<'a, PciTransport>,
    features: Features,
    legacy: bool,
    vectors: Option<IrqVectors>,
    routing: Routing,
    nqueues: u16,
    status: Arc<DeviceStatus>,
}

impl<'a> Setup<'a> {
    /// The device.
    pub fn device(&self) -> &Device<Bound> {
        self.pdev.as_ref()
    }

    /// The negotiated features.
    pub fn features(&self) -> Features {
        self.features
    }

    /// Whether `f` was negotiated.
    pub fn has_feature(&self, f: Feature) -> bool {
        self.features.contains(f)
    }

    /// Whether the legacy interface is in use.
    pub fn is_legacy(&self) -> bool {
        self.legacy
    }

    /// The device configuration, for reads after probe. Call it after
    /// [`Setup::find_queues`] (MSI-X moves the legacy configuration).
    pub fn device_config(&mut self) -> Result<Arc<DeviceConfig>> {
        let pdev = self.pdev;
        let (cfg, base, generation) = self.transport()?.map_config(pdev)?;
        Ok(Arc::new(
            DeviceConfig {
                cfg,
                base,
                generation,
            },
            GFP_KERNEL,
        )?)
    }

    /// The device status register, for the driver's own failure handling.
    pub fn device_status(&self) -> Arc<DeviceStatus> {
        self.status.clone()
    }

    /// How interrupts were routed (after [`Setup::find_queues`]).
    pub fn routing(&self) -> Routing {
        self.routing
    }

    /// The MSI-X vector of queue 0 when each queue has its own vector
    /// (queue `i` on vector `offset + i`) spread over the CPUs with managed
    /// affinity, for subsystems that map CPUs to queues by interrupt
    /// affinity (blk-mq); `None` otherwise. After [`Setup::find_queues`].
    pub fn queue_vector_offset(&self) -> Option<u32> {
        // `alloc_vectors` asks for managed affinity with more than one
        // queue; vector 0 is the configuration vector.
        (self.routing == Routing::PerQueue && self.nqueues > 1).then_some(1)
    }

    fn transport(&mut self) -> Result<&mut PciTransport> {
        self.init.transport().map_err(init_errno)
    }

    /// Reads the device configuration consistently (retrying across
    /// `config_generation` changes, bounded).
    pub fn read_config<R, F>(&mut self, read: F) -> Result<R>
    where
        R: PartialEq,
        F: FnMut(
            &mut crate::virtio::config::ConfigReader<'_, PciTransport>,
        ) -> Result<R, TransportError>,
    {
        self.init.read_config(read).map_err(init_errno)
    }

    /// Writes a byte of device configuration.
    pub fn write_config_u8(&mut self, offset: usize, value: u8) -> Result {
        self.init.write_config_u8(offset, value).map_err(init_errno)
    }

    fn alloc_vectors(&mut self, count: u16, routing: Routing) -> Result {
        self.vectors = None;
        let pdev = self.pdev;
        let v = match routing {
            Routing::PerQueue => IrqVectors::msix(pdev, u32::from(count) + 1, 1, count > 1)?,
            Routing::Shared => IrqVectors::msix(pdev, 2, 1, false)?,
            Routing::Intx => IrqVectors::intx(pdev)?,
        };
        let msix = v.kind() == VectorKind::MsiX;
        self.vectors = Some(v);
        self.routing = routing;
        let t = self.transport()?;
        t.set_msix(msix);
        if msix {
            t.set_config_vector(0)?;
        }
        Ok(())
    }

    /// Creates `count` queues (`0..count`), each as `spec` asks, and routes
    /// their interrupts. Call once.
    pub fn find_queues<T: Send>(
        &mut self,
        count: u16,
        spec: QueueSpec,
    ) -> Result<KVec<Arc<Queue<T>>>> {
        if self.nqueues != 0 || count == 0 {
            return Err(EINVAL);
        }
        if let Some(n) = self.transport()?.num_queues() {
            if n < count {
                return Err(ENOENT);
            }
        }
        let mut last = ENODEV;
        for routing in [Routing::PerQueue, Routing::Shared, Routing::Intx] {
            match self.alloc_vectors(count, routing) {
                Ok(()) => match self.make_queues(count, spec) {
                    Ok(q) => {
                        self.nqueues = count;
                        return Ok(q);
                    }
                    Err(e) => last = e,
                },
                Err(e) => last = e,
            }
            // Undo the routing before trying the next way.
            let _ = self.transport().map(|t| t.set_msix(false));
            self.vectors = None;
        }
        Err(last)
    }

    fn make_queues<T: Send>(&mut self, count: u16, spec: QueueSpec) -> Result<KVec<Arc<Queue<T>>>> {
        let legacy = self.legacy;
        let features = self.features;
        let routing = self.routing;
        let pdev = self.pdev;
        let dev: &Device<Bound> = pdev.as_ref();
        let mut queues = KVec::with_capacity(usize::from(count), GFP_KERNEL)?;
        for i in 0..count {
            let t = self.transport()?;
            let max = t.max_queue_size(i).map_err(transport_errno)?;
            if max == 0 {
                return Err(ENOENT);
            }
            let size = if legacy {
                // Legacy queues cannot be resized.
                if !max.is_power_of_two() {
                    return Err(EINVAL);
                }
                max
            } else {
                pick_queue_size(max, spec.max_size)
            };
            let layout = if legacy {
                SplitLayout::legacy(size, crate::virtio::pci::legacy::VRING_ALIGN)
            } else {
                SplitLayout::modern(size)
            }
            .map_err(|_| EINVAL)?;
            let ring = Ring::new(dev, layout.total_size())?;
            let indirect = features.contains(Feature::INDIRECT_DESC) && spec.max_indirect > 1;
            let platform = if indirect {
                KernelPlatform::with_indirect(dev, size, spec.max_indirect)?
            } else {
                KernelPlatform::new()
            };
            let mut opts = QueueOptions::from_features(features, legacy);
            opts.indirect = indirect;
            opts.max_indirect = spec.max_indirect;
            let sq = SplitQueue::<KernelPlatform, T>::new(platform, ring, layout, opts)
                .map_err(|_| ENOMEM)?;
            let t = self.transport()?;
            t.setup_queue(i, &sq.config()).map_err(transport_errno)?;
            match routing {
                Routing::PerQueue => t.set_queue_vector(i, i + 1)?,
                Routing::Shared => t.set_queue_vector(i, 1)?,
                Routing::Intx => {
                    if legacy {
                        // Without MSI-X the legacy vector registers do not
                        // exist.
                    } else {
                        t.set_queue_vector(i, MSI_NO_VECTOR)?;
                    }
                }
            }
            let (notifier, wide) = t.map_notify(pdev, i)?;
            t.enable_queue(i).map_err(transport_errno)?;
            let notify_data = wide && features.contains(Feature::NOTIFICATION_DATA);
            let status = self.status.clone();
            let q = Arc::pin_init(
                pin_init!(Queue {
                    vq <- crate::new_spinlock_irq!(sq, "rvirtio_queue"),
                    notifier,
                    notify_data,
                    index: i,
                    status,
                }),
                GFP_KERNEL,
            )?;
            queues.push(q, GFP_KERNEL)?;
        }
        Ok(queues)
    }
}

/// State shared by the device's interrupt handlers and its driver.
pub struct Shared<D: Driver> {
    data: D::Data,
    nqueues: u16,
}

enum Role {
    Config,
    Queue(u16),
    AllQueues,
    Intx(IoRegion),
}

/// An interrupt handler of a virtio PCI device.
pub struct Handler<D: Driver> {
    shared: Arc<Shared<D>>,
    role: Role,
}

impl<D: Driver> Handler<D> {
    fn all_queues(&self) {
        for i in 0..self.shared.nqueues {
            D::queue_interrupt(&self.shared.data, i);
        }
    }
}

impl<D: Driver> IrqHandler for Handler<D> {
    fn handle(&self) -> IrqReturn {
        match &self.role {
            Role::Config => D::config_changed(&self.shared.data),
            Role::Queue(i) => D::queue_interrupt(&self.shared.data, *i),
            Role::AllQueues => self.all_queues(),
            Role::Intx(isr) => {
                // Reading the ISR acknowledges the interrupt (§4.1.4.5).
                let Ok(bits) = isr.read8(0) else {
                    return IrqReturn::None;
                };
                if bits == 0 || bits == 0xff {
                    // Not ours (shared line), or the device is gone.
                    return IrqReturn::None;
                }
                if bits & crate::virtio::spec::ISR_QUEUE != 0 {
                    self.all_queues();
                }
                if bits & crate::virtio::spec::ISR_CONFIG != 0 {
                    D::config_changed(&self.shared.data);
                }
            }
        }
        IrqReturn::Handled
    }
}

/// A probed virtio PCI device.
pub struct Probed<D: Driver> {
    // Field order is drop order: free the interrupts, then the driver
    // data (queues, buffers), then the vectors, then the transport.
    irqs: KVec<Pin<KBox<IrqRegistration<Handler<D>>>>>,
    shared: Arc<Shared<D>>,
    _vectors: Option<IrqVectors>,
    transport: PciTransport,
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
        // least loses bus mastering.
        if self.transport.reset_now().is_err() {
            self.transport.stop_dma();
        }
        for irq in self.irqs.iter() {
            irq.synchronize();
        }
        // Every buffer still in flight comes back when the queues are
        // dropped with the driver data (the device, reset, no longer owns
        // them).
    }
}

/// The PCI driver data of [`PciAdapter`].
#[pin_data]
pub struct VirtioPci<D: Driver> {
    dev: Probed<D>,
}

impl<D: Driver> VirtioPci<D> {
    /// The driver's data.
    pub fn data(&self) -> &D::Data {
        self.dev.data()
    }
}

/// Everything probe sets up before DRIVER_OK, with the device still in
/// FEATURES_OK.
struct Parts<D: Driver> {
    data: D::Data,
    nqueues: u16,
    routing: Routing,
    vectors: Option<IrqVectors>,
    isr: Option<IoRegion>,
}

fn setup_device<'a, D: Driver>(
    pdev: &'a pci::Device<Bound>,
    init: &mut Option<DeviceInit<'a, PciTransport>>,
    legacy: bool,
    status: Arc<DeviceStatus>,
) -> Result<Parts<D>> {
    let dinit = init.as_mut().ok_or(EINVAL)?;
    let features = dinit.negotiate(&D::FEATURES).map_err(|e| {
        dev_err!(pdev.as_ref(), "feature negotiation failed: {:?}\n", e);
        init_errno(e)
    })?;
    let Some(dinit) = init.take() else {
        return Err(EINVAL);
    };
    let mut setup = Setup {
        pdev,
        init: dinit,
        features,
        legacy,
        vectors: None,
        routing: Routing::Intx,
        nqueues: 0,
        status,
    };
    let data = D::probe(&mut setup);
    let isr = match (&data, setup.routing, &setup.vectors) {
        (Ok(_), Routing::Intx, Some(_)) => Some(setup.transport()?.map_isr(pdev)?),
        _ => None,
    };
    let Setup {
        init: dinit,
        vectors,
        routing,
        nqueues,
        ..
    } = setup;
    *init = Some(dinit);
    Ok(Parts {
        data: data?,
        nqueues,
        routing,
        vectors,
        isr,
    })
}

fn probe_device<D: Driver>(pdev: &pci::Device<Core<'_>>) -> Result<Probed<D>> {
    let mut transport = PciTransport::new(pdev, D::DEVICE_ID, D::force_legacy(), D::NAME)?;
    let legacy = transport.is_legacy();
    // SAFETY: no DMA allocation for this device happens concurrently: probe
    // is serialised by the driver core and nothing was allocated yet.
    unsafe {
        pdev.dma_set_mask_and_coherent(DmaMask::new::<64>())?;
        // Virtio has no DMA segment limit of its own (block's `size_max`
        // is a queue limit); without this the PCI default of 64 KiB would
        // reject the block layer's larger segments.
        pdev.dma_set_max_seg_size(u32::MAX);
        if legacy {
            // The legacy queue address register holds a 32-bit page frame
            // number of 4 KiB pages.
            pdev.dma_set_coherent_mask(DmaMask::new::<44>())?;
        }
    }
    let status = Arc::new(
        DeviceStatus {
            reg: transport.map_status(pdev)?,
        },
        GFP_KERNEL,
    )?;

    let r = live::<D>(pdev, &mut transport, legacy, status);
    match r {
        Ok(live) => {
            let this = Probed {
                irqs: live.irqs,
                shared: live.shared,
                _vectors: live.vectors,
                transport,
            };
            // On failure `this` is dropped: remove, reset, release.
            D::ready(this.data(), pdev.as_ref())?;
            Ok(this)
        }
        Err(e) => {
            // The device may hold queue addresses of freed rings: make it
            // forget them.
            let _ = transport.reset_now();
            Err(e)
        }
    }
}

/// A device that reached DRIVER_OK.
struct Live<D: Driver> {
    shared: Arc<Shared<D>>,
    vectors: Option<IrqVectors>,
    irqs: KVec<Pin<KBox<IrqRegistration<Handler<D>>>>>,
}

/// Negotiates, sets up, requests the interrupts and sets DRIVER_OK.
fn live<D: Driver>(
    pdev: &pci::Device<Bound>,
    transport: &mut PciTransport,
    legacy: bool,
    status: Arc<DeviceStatus>,
) -> Result<Live<D>> {
    let dinit = DeviceInit::begin(transport, InitOptions::default()).map_err(init_errno)?;
    let mut init = Some(dinit);
    let parts = setup_device::<D>(pdev, &mut init, legacy, status)?;
    let init = init.ok_or(EINVAL)?;
    let shared = Arc::new(
        Shared::<D> {
            data: parts.data,
            nqueues: parts.nqueues,
        },
        GFP_KERNEL,
    )?;

    // Request the handlers before DRIVER_OK, so no interrupt is missed.
    let mut irqs = KVec::new();
    if let Some(v) = &parts.vectors {
        let mut roles = KVec::new();
        match (v.kind(), parts.routing) {
            (VectorKind::Intx, _) | (_, Routing::Intx) => {
                let isr = parts.isr.ok_or(EINVAL)?;
                roles.push((0, Role::Intx(isr)), GFP_KERNEL)?;
            }
            (VectorKind::MsiX, Routing::Shared) => {
                roles.push((0, Role::Config), GFP_KERNEL)?;
                roles.push((1, Role::AllQueues), GFP_KERNEL)?;
            }
            (VectorKind::MsiX, Routing::PerQueue) => {
                roles.push((0, Role::Config), GFP_KERNEL)?;
                for i in 0..parts.nqueues {
                    roles.push((u32::from(i) + 1, Role::Queue(i)), GFP_KERNEL)?;
                }
            }
        }
        let shared_line = v.kind() == VectorKind::Intx;
        for (vec, role) in roles {
            let irq = v.irq(vec)?;
            let h = Handler {
                shared: shared.clone(),
                role,
            };
            let reg = KBox::pin_init(IrqRegistration::new(irq, h), GFP_KERNEL)?;
            reg.as_ref().request(D::NAME, shared_line)?;
            irqs.push(reg, GFP_KERNEL)?;
        }
    }
    let features = init.driver_ok().map_err(init_errno)?;
    dev_info!(
        pdev.as_ref(),
        "{} interface, {} queue(s), {:?} interrupts, features {:?}\n",
        if legacy { "legacy" } else { "modern" },
        parts.nqueues,
        parts.routing,
        features
    );
    Ok(Live {
        shared,
        vectors: parts.vectors,
        irqs,
    })
}

/// A virtio driver's PCI device ids (generated by
/// [`module_virtio_driver!`]).
pub trait PciIds: Driver {
    /// The transitional and modern ids of [`Driver::DEVICE_ID`].
    const PCI_TABLE: pci::IdTable<()>;
}

/// Runs a virtio [`Driver`] as a PCI driver.
pub struct PciAdapter<D>(PhantomData<D>);

impl<D: PciIds> pci::Driver for PciAdapter<D> {
    type IdInfo = ();
    type Data<'bound> = VirtioPci<D>;
    const ID_TABLE: pci::IdTable<()> = D::PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: &'bound (),
    ) -> impl PinInit<VirtioPci<D>, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            let dev = probe_device::<D>(pdev)?;
            Ok(try_pin_init!(VirtioPci { dev }? Error))
        })
    }
}

/// Declares a virtio driver module: the PCI driver with the transitional
/// (`0x1000 + n`) and modern (`0x1040 + id`) device ids of the driver's
/// device type (aliases in `modinfo`, so udev or mdev autoloads it), and the
/// module around it. Other `module!` fields (`params`, ...) pass through.
///
/// ```ignore
/// kvirtio::module_virtio_driver! {
///     type: RvirtioRng,
///     name: "rvirtio_rng",
///     authors: ["rvirtio developers"],
///     description: "virtio entropy device",
///     license: "GPL",
/// }
/// ```
#[macro_export]
macro_rules! module_virtio_driver {
    (type: $drv:ty, $($rest:tt)*) => {
        ::kernel::pci_device_table!(
            RVIRTIO_PCI_TABLE,
            MODULE_PCI_TABLE,
            (),
            [
                (
                    ::kernel::pci::DeviceId::from_id(
                        ::kernel::pci::Vendor::REDHAT_QUMRANET,
                        $crate::kvirtio::driver::transitional_or_modern(
                            <$drv as $crate::kvirtio::driver::Driver>::DEVICE_ID,
                        ),
                    ),
                    (),
                ),
                (
                    ::kernel::pci::DeviceId::from_id(
                        ::kernel::pci::Vendor::REDHAT_QUMRANET,
                        $crate::kvirtio::driver::modern_id(
                            <$drv as $crate::kvirtio::driver::Driver>::DEVICE_ID,
                        ),
                    ),
                    (),
                ),
            ]
        );
        impl $crate::kvirtio::driver::PciIds for $drv {
            const PCI_TABLE: ::kernel::pci::IdTable<()> = &RVIRTIO_PCI_TABLE;
        }
        ::kernel::module_pci_driver! {
            type: $crate::kvirtio::driver::PciAdapter<$drv>,
            $($rest)*
        }
    };
}

/// The modern PCI device id of `id` (`0x1040 + id`); `0x107f` (no device)
/// for an id out of range.
pub const fn modern_id(id: DeviceId) -> u32 {
    match id.modern_pci_id() {
        Some(v) => v as u32,
        None => 0x107f,
    }
}

/// The transitional PCI device id of `id`, or its modern id for the device
/// types that never had a transitional one.
pub const fn transitional_or_modern(id: DeviceId) -> u32 {
    match id.transitional_pci_id() {
        Some(v) => v as u32,
        None => modern_id(id),
    }
}
