// SPDX-License-Identifier: GPL-2.0

//! The interrupt of a virtio-mmio device (§4.2.3.4): one line for all
//! queues and configuration changes. The handler asks the transport what
//! happened ([`ack_interrupt`]: read `InterruptStatus`, write the same
//! bits to `InterruptACK`); bit 0 runs every queue's handler, bit 1 the
//! configuration handler.
//!
//! [`ack_interrupt`]: crate::virtio::transport::Transport::ack_interrupt

use crate::kvirtio::{
    irq::{Interrupts, Routing},
    transport::DeviceTransport,
};
use kernel::{
    device::{Bound, Device},
    prelude::*, //
};

/// The interrupt line of a virtio-mmio device.
pub struct MmioInterrupts {
    irq: u32,
}

impl MmioInterrupts {
    /// The device's line, Linux IRQ `irq` (its platform IRQ resource 0).
    pub fn new(irq: u32) -> Self {
        Self { irq }
    }
}

impl Interrupts for MmioInterrupts {
    fn routings(&self) -> &'static [Routing] {
        &[Routing::Line]
    }

    fn alloc(
        &mut self,
        _dev: &Device<Bound>,
        _transport: &DeviceTransport,
        _callbacks: u16,
        routing: Routing,
        _spread: bool,
    ) -> Result {
        if routing == Routing::Line {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    fn route_queue(
        &self,
        _transport: &DeviceTransport,
        _index: u16,
        _vector: Option<u16>,
    ) -> Result {
        // Every queue is on the line; nothing to program.
        Ok(())
    }

    fn undo(&mut self, _transport: &DeviceTransport) {}

    fn irq(&self, vector: u16) -> Result<u32> {
        if vector == 0 {
            Ok(self.irq)
        } else {
            Err(EINVAL)
        }
    }

    fn shared_line(&self) -> bool {
        // As the C driver: a command-line device may share its line, and
        // the handler returns IRQ_NONE when InterruptStatus is 0.
        true
    }
}
