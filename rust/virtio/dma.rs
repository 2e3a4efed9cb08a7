// SPDX-License-Identifier: GPL-2.0

//! How the device addresses the driver's memory: the one decision, made
//! from the negotiated features, that every ring and every buffer follows.
//!
//! Spec §6.1 (`VIRTIO_F_ACCESS_PLATFORM`, bit 33): with the feature
//! negotiated, "the device can be used on a platform where device access
//! to data in memory is limited and/or translated", e.g. behind an IOMMU:
//! the driver must give it addresses the platform translates, which in
//! Linux are those of the DMA API (IOVAs, swiotlb bounce buffers, a
//! confidential guest's shared memory). Without it the device "has same
//! access to memory addresses supplied to it as the driver has": guest
//! physical addresses, whatever IOMMU the platform has, so the driver must
//! bypass the DMA API, as the C core's `vring_use_map_api()` does (an
//! IOVA would be read as a physical address).
//!
//! A guest whose memory the host may not access directly (a confidential
//! guest: AMD SEV, Intel TDX, s390 protected virtualization) can only
//! share memory through the platform, so it must refuse a device that
//! does not use it, as the C core's `virtio_features_ok()` does (with
//! `virtio_check_mem_acc_cb`); the platform's answer comes in as
//! `restricted`.
//!
//! The kernel side (`rust/kext/dma.rs`, `rust/kvirtio/platform.rs`, the
//! blk shim's mappings) allocates rings and maps buffers as
//! [`Addressing`] says, and bounds buffer segments by
//! [`Addressing::max_segment`].

use super::features::{Feature, Features};

/// How the device addresses the driver's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addressing {
    /// Guest physical addresses (no `ACCESS_PLATFORM`): rings and buffers
    /// are given to the device by their physical address, bypassing the
    /// platform's DMA translation and bounce buffers.
    Physical,
    /// The platform's DMA translation (`ACCESS_PLATFORM` negotiated): rings
    /// are allocated and buffers mapped through the DMA API.
    Platform,
}

/// Why a device cannot be driven in this guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressingError {
    /// The guest restricts the host's access to its memory, and the device
    /// does not offer `VIRTIO_F_ACCESS_PLATFORM` (a legacy interface never
    /// can): it would need physical addresses of memory it cannot reach.
    NeedsAccessPlatform,
}

/// Decides how the device addresses memory from the `negotiated` features,
/// and whether the guest restricts the host's access to its memory
/// (`restricted`). The core accepts `ACCESS_PLATFORM` whenever it is
/// offered (`Features::CORE_DEFAULT`), so "not negotiated" means "not
/// offered".
pub fn addressing(negotiated: Features, restricted: bool) -> Result<Addressing, AddressingError> {
    if negotiated.contains(Feature::ACCESS_PLATFORM) {
        Ok(Addressing::Platform)
    } else if restricted {
        Err(AddressingError::NeedsAccessPlatform)
    } else {
        Ok(Addressing::Physical)
    }
}

impl Addressing {
    /// Whether rings and buffers go through the platform's DMA API.
    pub const fn uses_dma_api(self) -> bool {
        matches!(self, Self::Platform)
    }

    /// The largest buffer segment the driver may hand the device, given
    /// the DMA layer's largest mapping (`dma_max_mapping_size()`: 256 KiB
    /// under swiotlb, unbounded otherwise). Physical addressing maps
    /// nothing, so nothing bounds it; as the C core's
    /// `virtio_max_dma_size()`. Saturated to `u32` (a descriptor's length).
    pub fn max_segment(self, dma_max_mapping: u64) -> u32 {
        match self {
            Self::Physical => u32::MAX,
            Self::Platform => u32::try_from(dma_max_mapping).unwrap_or(u32::MAX),
        }
    }

    /// A short name, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Physical => "physical addresses",
            Self::Platform => "DMA API",
        }
    }
}
