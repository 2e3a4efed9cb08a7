// SPDX-License-Identifier: GPL-2.0

//! Virtio on the Linux kernel: the kernel side of the rvirtio core.
//!
//! `rust/virtio` is kernel-independent; this module gives it what it needs
//! from the kernel ([`platform`]: DMA-coherent ring memory, `KVec`
//! bookkeeping and the `virt_*()` barriers). A module includes it after
//! the core and the kernel glue, under these exact names:
//!
//! ```ignore
//! #[path = "../../rust/virtio/mod.rs"]
//! pub mod virtio;
//! #[path = "../../rust/kext/mod.rs"]
//! pub mod kext;
//! #[path = "../../rust/kvirtio/mod.rs"]
//! pub mod kvirtio;
//! ```

pub mod driver;
pub mod pci;
pub mod platform;
