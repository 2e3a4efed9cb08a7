// SPDX-License-Identifier: GPL-2.0

//! Interrupt routing of a virtio PCI device (§4.1.4.3, §4.1.5.1.2): MSI-X
//! with a vector per queue (spread over the CPUs), MSI-X with one vector
//! for all queues, or the INTx line with the ISR.

use super::transport::PciTransport;
use crate::{
    kext::pci::{IrqVectors, VectorKind},
    kvirtio::{
        irq::{Interrupts, Routing},
        transport::DeviceTransport,
    },
    virtio::pci::MSI_NO_VECTOR,
};
use kernel::{
    device::{Bound, Device},
    pci,
    prelude::*, //
};

/// The interrupt vectors of a PCI device.
pub struct PciInterrupts {
    vectors: Option<IrqVectors>,
}

impl PciInterrupts {
    /// No vectors yet; [`Interrupts::alloc`] allocates them.
    pub fn new() -> Self {
        Self { vectors: None }
    }
}

impl Default for PciInterrupts {
    fn default() -> Self {
        Self::new()
    }
}

impl Interrupts for PciInterrupts {
    fn routings(&self) -> &'static [Routing] {
        &[Routing::PerQueue, Routing::Shared, Routing::Intx]
    }

    fn alloc(
        &mut self,
        dev: &Device<Bound>,
        transport: &DeviceTransport,
        callbacks: u16,
        routing: Routing,
        spread: bool,
    ) -> Result {
        self.vectors = None;
        let pdev: &pci::Device<Bound> = dev.try_into()?;
        let v = match routing {
            Routing::PerQueue if callbacks > 0 => {
                IrqVectors::msix(pdev, u32::from(callbacks) + 1, 1, spread && callbacks > 1)?
            }
            Routing::Shared if callbacks > 0 => IrqVectors::msix(pdev, 2, 1, false)?,
            // Without queue interrupts, one vector for the configuration.
            Routing::PerQueue | Routing::Shared => IrqVectors::msix(pdev, 1, 1, false)?,
            Routing::Intx | Routing::Line => IrqVectors::intx(pdev)?,
        };
        let msix = v.kind() == VectorKind::MsiX;
        self.vectors = Some(v);
        transport.with_pci(|t: &PciTransport| {
            t.set_msix(msix);
            if msix {
                t.set_config_vector(0)?;
            }
            Ok(())
        })
    }

    fn route_queue(&self, transport: &DeviceTransport, index: u16, vector: Option<u16>) -> Result {
        let msix = self
            .vectors
            .as_ref()
            .is_some_and(|v| v.kind() == VectorKind::MsiX);
        transport.with_pci(|t: &PciTransport| {
            if msix {
                t.set_queue_vector(index, vector.unwrap_or(MSI_NO_VECTOR))
            } else if !t.is_legacy() {
                // INTx on a modern device: no vector. (Without MSI-X the
                // legacy vector registers do not exist.)
                t.set_queue_vector(index, MSI_NO_VECTOR)
            } else {
                Ok(())
            }
        })
    }

    fn undo(&mut self, transport: &DeviceTransport) {
        let _ = transport.with_pci(|t: &PciTransport| {
            t.set_msix(false);
            Ok(())
        });
        self.vectors = None;
    }

    fn irq(&self, vector: u16) -> Result<u32> {
        self.vectors.as_ref().ok_or(EINVAL)?.irq(u32::from(vector))
    }

    fn shared_line(&self) -> bool {
        self.vectors
            .as_ref()
            .is_some_and(|v| v.kind() == VectorKind::Intx)
    }
}
