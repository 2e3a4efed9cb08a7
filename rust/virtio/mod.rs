// SPDX-License-Identifier: GPL-2.0

//! rvirtio core: the kernel-independent part of the virtio driver stack.
//!
//! This module tree uses only `core`. It is compiled into each rvirtio
//! kernel module through
//! `#[path = "../../rust/virtio/mod.rs"] pub mod virtio;` and, unchanged,
//! as the host crate `rvirtio-core` (`lib.rs`) for tests, fuzzing and
//! benchmarks. Everything that depends on the environment (memory,
//! barriers, allocation, register access) comes in through the traits of
//! [`platform`] and [`transport`].
//!
//! - [`wire`]: little-endian wire types.
//! - [`spec`]: device IDs, status bits, ring flags.
//! - [`features`]: the feature set and [`features::negotiate`].
//! - [`transport`]: the [`transport::Transport`] trait (PCI, MMIO, ccw).
//! - [`mmio`]: virtio-mmio registers, header checks, the transport over
//!   an abstract register window, the command-line device syntax.
//! - [`config`]: generation-consistent configuration reads.
//! - [`dma`]: how the device addresses memory (`ACCESS_PLATFORM`).
//! - [`init`]: the initialization sequence.
//! - [`layout`]: split and packed ring layouts.
//! - [`platform`]: DMA memory, barriers, storage.
//! - [`queue`]: the layout-independent [`queue::Virtqueue`] API.
//! - [`split`]: the split ring, driver side.
//! - [`blk`]: the virtio-blk wire format and protocol logic.
//!
//! See `Documentation/rvirtio/core.rst`.

// Device-reachable code must not panic: no unchecked indexing, no
// overflowing arithmetic, no unwrap. Enforced when linting with clippy.
// This list is the project's one no-panic lint set: the Makefile reads it
// from here (RVIRTIO_NOPANIC) and every driver directory's Kbuild applies
// it to its whole crate (kext, kvirtio and the driver's own files).
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented,
    clippy::unreachable
)]

pub mod blk;
pub mod ccw;
pub mod config;
pub mod console;
pub mod dma;
pub mod features;
pub mod init;
pub mod layout;
pub mod mmio;
pub mod net;
pub mod pci;
pub mod platform;
pub mod queue;
pub mod spec;
pub mod split;
pub mod transport;
pub mod wire;
