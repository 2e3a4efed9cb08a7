// SPDX-License-Identifier: GPL-2.0

//! Interrupts of a virtio device: how they are routed, what each handler
//! does, and what a bus provides ([`Interrupts`]).
//!
//! The framework asks the bus for a [`Routing`], best first: a vector per
//! queue, one vector for all queues, or a single line that the transport's
//! [`ack_interrupt`](crate::virtio::transport::Transport::ack_interrupt)
//! decodes (PCI INTx reads the ISR; MMIO reads InterruptStatus and writes
//! InterruptACK). The handlers call the driver's
//! [`Driver::queue_interrupt`] and [`Driver::config_changed`], and only for
//! queues that asked for interrupts ([`QueueSpec::callback`]).
//!
//! [`QueueSpec::callback`]: super::queue::QueueSpec::callback

use super::{driver::Driver, queue::QueueInfo, transport::DeviceTransport};
use crate::{
    kext::irq::{IrqHandler, IrqReturn},
    virtio::transport::Transport,
};
use kernel::{
    device::{Bound, Device},
    prelude::*,
    sync::Arc, //
};

/// How interrupts reach the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// A vector for configuration changes (0) and one per queue with
    /// interrupts (`1 + k` for the `k`-th).
    PerQueue,
    /// Vector 0 for configuration changes, vector 1 for every queue.
    Shared,
    /// PCI INTx: one shared line; the ISR tells what happened.
    Intx,
    /// The bus's single interrupt line (MMIO); the transport tells what
    /// happened.
    Line,
}

impl Routing {
    /// Whether everything arrives on vector 0 and the transport must be
    /// asked what happened.
    pub fn is_single_line(self) -> bool {
        matches!(self, Self::Intx | Self::Line)
    }

    /// The vector of the `k`-th queue with interrupts.
    pub fn queue_vector(self, k: u16) -> Option<u16> {
        match self {
            Self::PerQueue => k.checked_add(1),
            Self::Shared => Some(1),
            Self::Intx | Self::Line => None,
        }
    }
}

/// What a bus provides for a device's interrupts.
pub trait Interrupts: Send + Sync {
    /// The routings the bus can do, best first.
    fn routings(&self) -> &'static [Routing];

    /// Sets up `routing` for `callbacks` queues with interrupts (allocates
    /// vectors, routes configuration changes); with `spread`, per-queue
    /// vectors get managed affinity spread over the CPUs
    /// ([`Driver::SPREAD_QUEUE_IRQS`]). Undone by [`Interrupts::undo`].
    fn alloc(
        &mut self,
        dev: &Device<Bound>,
        transport: &DeviceTransport,
        callbacks: u16,
        routing: Routing,
        spread: bool,
    ) -> Result;

    /// Routes queue `index`'s used buffer interrupts to `vector` (`None`:
    /// no interrupts), after the queue was programmed.
    fn route_queue(&self, transport: &DeviceTransport, index: u16, vector: Option<u16>) -> Result;

    /// Drops what [`Interrupts::alloc`] set up, before another routing is
    /// tried.
    fn undo(&mut self, transport: &DeviceTransport);

    /// The Linux IRQ number of vector `vector`.
    fn irq(&self, vector: u16) -> Result<u32>;

    /// Whether vector 0 is a shared line (requested with `IRQF_SHARED`).
    fn shared_line(&self) -> bool;
}

/// What the driver and its interrupt handlers share.
pub(crate) struct Shared<D: Driver> {
    pub(crate) data: D::Data,
    /// The queues with interrupts, in order.
    pub(crate) callbacks: KVec<u16>,
    /// Every queue, by index (for the interrupt counters); `None` for an
    /// index the driver left unused.
    pub(crate) queues: KVec<Option<Arc<dyn QueueInfo>>>,
}

impl<D: Driver> Shared<D> {
    /// Queue `i` has its own interrupt: count it, run the driver's handler.
    #[inline]
    fn queue_interrupt(&self, i: u16) {
        if let Some(Some(q)) = self.queues.get(usize::from(i)) {
            q.interrupted();
        }
        D::queue_interrupt(&self.data, i);
    }

    /// An interrupt shared by queue `i` and others: run the driver's
    /// handler only if the queue has used buffers, as the C core's
    /// `vring_interrupt()` does. A queue without is idle with interrupts
    /// enabled, so a buffer used right after this check raises another
    /// interrupt.
    #[inline]
    fn shared_queue_interrupt(&self, i: u16) {
        match self.queues.get(usize::from(i)) {
            Some(Some(q)) if !q.more_used() => {}
            _ => self.queue_interrupt(i),
        }
    }
}

/// What one handler does.
pub(crate) enum Role {
    /// Configuration changes.
    Config,
    /// One queue.
    Queue(u16),
    /// Every queue with interrupts.
    AllQueues,
    /// Everything, as the transport says.
    Line(Arc<DeviceTransport>),
}

/// An interrupt handler of a virtio device.
pub(crate) struct Handler<D: Driver> {
    pub(crate) shared: Arc<Shared<D>>,
    pub(crate) role: Role,
}

impl<D: Driver> Handler<D> {
    fn all_queues(&self) {
        for &i in self.shared.callbacks.iter() {
            self.shared.shared_queue_interrupt(i);
        }
    }
}

impl<D: Driver> IrqHandler for Handler<D> {
    fn handle(&self) -> IrqReturn {
        match &self.role {
            Role::Config => D::config_changed(&self.shared.data),
            Role::Queue(i) => self.shared.queue_interrupt(*i),
            Role::AllQueues => self.all_queues(),
            Role::Line(t) => {
                let Ok(cause) = t.ack_interrupt() else {
                    return IrqReturn::None;
                };
                if cause.bits() == 0 {
                    // Not ours (a shared line), or the device is gone.
                    return IrqReturn::None;
                }
                if cause.queue() {
                    self.all_queues();
                }
                if cause.config() {
                    D::config_changed(&self.shared.data);
                }
            }
        }
        IrqReturn::Handled
    }
}
