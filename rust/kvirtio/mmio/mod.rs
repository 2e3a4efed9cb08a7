// SPDX-License-Identifier: GPL-2.0

//! Virtio over MMIO (virtio 1.4 §4.2), version 2 and legacy version 1:
//! the transport on an `ioremap()`ed window ([`transport`]), its single
//! interrupt line ([`irq`]), the platform driver that runs a virtio
//! [`Driver`](crate::kvirtio::driver::Driver) on a virtio-mmio device
//! ([`adapter`]), and the devices of the `device` module parameter
//! ([`cmdline`]).
//!
//! Discovery: ACPI `LNRO0005` and device-tree `virtio,mmio` devices, and
//! `device=<size>@<base>:<irq>[:<id>]` for guests without either. Every
//! virtio-mmio device looks the same to the bus (only its `DeviceID`
//! register tells its type), so each rvirtio module's platform driver
//! matches every one of them and refuses, silently and with `ENODEV`, a
//! device of another type or a placeholder (`DeviceID` 0): the driver
//! core then offers the device to the next driver, and again to each
//! driver registered later. The kernel-independent part (registers,
//! checks, the transport logic, the parameter syntax) is
//! [`crate::virtio::mmio`]. See `Documentation/rvirtio/mmio.rst`.

pub mod adapter;
pub mod cmdline;
pub mod irq;
pub mod transport;

pub use adapter::{MmioAdapter, MmioIds};
pub use transport::MmioTransport;

// The kernel's printing macros take `kernel::fmt::Display`: forward the
// core's messages.
impl kernel::fmt::Display for crate::virtio::mmio::HeaderError {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl kernel::fmt::Display for crate::virtio::mmio::cmdline::CmdlineError {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}
