// SPDX-License-Identifier: GPL-2.0

//! Virtio on the Linux kernel: the kernel side of the rvirtio core.
//!
//! `rust/virtio` is kernel-independent; this module runs it on the kernel,
//! in layers (Documentation/rvirtio/framework.rst):
//!
//! - transport-neutral: [`driver`] (the [`driver::Driver`] trait, probe
//!   and removal), [`queue`], [`config`], [`status`], [`irq`], and
//!   [`transport`] (a device's transport on whichever bus, revocable);
//! - one folder per bus: [`pci`], [`mmio`];
//! - [`platform`]: what the core needs from the kernel (DMA-coherent ring
//!   memory, `KVec` bookkeeping, the `virt_*()` barriers);
//! - [`module`]: `module_virtio_driver!`, which registers a driver on
//!   every bus; [`errno`]: the one mapping of core errors to errnos;
//!   [`debugfs`] and [`stats`]: per-device state and per-queue counters.
//!
//! A module includes it after the core and the kernel glue, under these
//! exact names:
//!
//! ```ignore
//! #[path = "../../rust/virtio/mod.rs"]
//! pub mod virtio;
//! #[path = "../../rust/kext/mod.rs"]
//! pub mod kext;
//! #[path = "../../rust/kvirtio/mod.rs"]
//! pub mod kvirtio;
//! ```

pub mod config;
pub mod debugfs;
pub mod driver;
pub mod errno;
pub mod irq;
pub mod mmio;
pub mod module;
pub mod pci;
pub mod platform;
pub mod queue;
pub mod stats;
pub mod status;
pub mod transport;
