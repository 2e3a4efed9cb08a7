// SPDX-License-Identifier: GPL-2.0

//! Device addresses of the driver's memory: through the DMA API (IOVAs,
//! bounce buffers), or the guest physical address, bypassing the DMA API.
//! This is the mechanism; which one a virtio device gets is the core's
//! decision from the negotiated features (`rust/virtio/dma.rs`, spec §6.1
//! `VIRTIO_F_ACCESS_PLATFORM`, the C core's `vring_use_map_api()`), which
//! `kvirtio` passes here as `dma_api`.
//!
//! - [`SharedMem`]: device-shared memory (rings, indirect tables): a
//!   coherent DMA allocation, or zeroed pages given by physical address
//!   (`vring_alloc_queue()`).
//! - [`DmaDevice`] and [`Mapping`]: streaming mappings of memory the
//!   driver owns (an rng request buffer, a block request's header), for
//!   one request, unmapped when dropped; [`MappedBuffer`] owns its buffer.
//! - [`restricted_memory_access`], [`max_mapping_size`],
//!   [`set_max_segment_size`]: what the platform says and allows.
//!
//! The 7.2 kernel crate offers coherent allocations
//! ([`kernel::dma::Coherent`]) but no streaming mappings, and nothing that
//! bypasses the DMA API; the C helpers in `rust/helpers/helpers.c` do both.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use super::{device::raw, ffi};
use core::ptr::NonNull;
use kernel::{
    bindings,
    device::{Bound, Device},
    dma::{Coherent, DataDirection},
    prelude::*,
    sync::aref::ARef, //
};

/// Whether the guest restricts the host's access to its memory (a
/// confidential guest: AMD SEV, Intel TDX, s390 protected
/// virtualization), as the C core's `virtio_features_ok()` asks
/// (`virtio_check_mem_acc_cb`). Such a guest refuses devices without
/// `ACCESS_PLATFORM` (`virtio::dma::addressing`).
pub fn restricted_memory_access() -> bool {
    // SAFETY: reads a pointer set during early boot; no arguments.
    unsafe { ffi::rvirtio_restricted_mem_access() }
}

/// The largest single mapping the DMA layer can make for `dev`
/// (`dma_max_mapping_size()`: 256 KiB when swiotlb bounces, unbounded
/// otherwise).
pub fn max_mapping_size(dev: &Device) -> u64 {
    // SAFETY: `dev` is a live device.
    let n = unsafe { ffi::rvirtio_dma_max_mapping_size(raw(dev)) };
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The largest segment the DMA API may make for `dev`
/// (`dma_get_max_seg_size()`; 64 KiB for a device without DMA parameters).
pub fn max_segment_size(dev: &Device) -> u32 {
    // SAFETY: `dev` is a live device.
    unsafe { ffi::rvirtio_dma_get_max_seg_size(raw(dev)) }
}

/// Sets the largest segment the DMA API may make for `dev`
/// (`dma_set_max_seg_size()`), also where an IOMMU merges the entries of
/// a scatterlist. `EINVAL` for a device without DMA parameters.
///
/// Call it during probe, before the device's memory is mapped: the DMA
/// API reads the value without locking.
pub fn set_max_segment_size(dev: &Device<Bound>, size: u32) -> Result {
    // SAFETY: `dev` is a live, bound device; the helper checks it has DMA
    // parameters before writing them.
    kernel::error::to_result(unsafe { ffi::rvirtio_dma_set_max_seg_size(raw(dev), size) })
}

/// Device-shared memory (rings, indirect tables): zeroed, page-aligned,
/// with one device address for its first byte, for as long as it lives.
pub struct SharedMem(Mem);

/// # Invariants
///
/// `Pages`: `ptr` is a live `rvirtio_alloc_pages_exact(len)` allocation,
/// physically contiguous, at physical address `phys`, owned by the value.
enum Mem {
    /// A coherent DMA allocation (with the DMA API).
    Coherent(Coherent<[u8]>),
    /// Pages from the page allocator, addressed physically (without).
    Pages {
        ptr: NonNull<u8>,
        len: usize,
        phys: u64,
    },
}

// SAFETY: the memory is owned by the value and reached only through
// volatile accesses by whoever holds it; `Coherent` is `Send` too.
unsafe impl Send for SharedMem {}
// SAFETY: as above; shared references give only the raw pointer.
unsafe impl Sync for SharedMem {}

impl SharedMem {
    /// Allocates `len` zeroed bytes (not 0) that `dev` reaches through
    /// the DMA API when `dma_api`, else by their physical address.
    pub fn new(dev: &Device<Bound>, dma_api: bool, len: usize) -> Result<Self> {
        if len == 0 {
            return Err(EINVAL);
        }
        if dma_api {
            return Ok(Self(Mem::Coherent(Coherent::<u8>::zeroed_slice(
                dev, len, GFP_KERNEL,
            )?)));
        }
        // SAFETY: allocates; no preconditions.
        let ptr = NonNull::new(unsafe { ffi::rvirtio_alloc_pages_exact(len) }.cast::<u8>())
            .ok_or(ENOMEM)?;
        // SAFETY: `ptr` is page-allocator memory in the linear map.
        let phys = unsafe { ffi::rvirtio_virt_to_phys(ptr.as_ptr().cast()) };
        // INVARIANT: just allocated, at `phys`, and owned from here.
        Ok(Self(Mem::Pages { ptr, len, phys }))
    }

    /// The CPU address of the first byte.
    pub fn cpu_ptr(&self) -> *mut u8 {
        match &self.0 {
            Mem::Coherent(c) => c.as_mut_ptr().cast::<u8>(),
            Mem::Pages { ptr, .. } => ptr.as_ptr(),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match &self.0 {
            Mem::Coherent(c) => c.len(),
            Mem::Pages { len, .. } => *len,
        }
    }

    /// Whether it is empty (never: empty allocations are refused).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The device address of the first byte.
    pub fn dma_addr(&self) -> u64 {
        match &self.0 {
            Mem::Coherent(c) => c.dma_handle(),
            Mem::Pages { phys, .. } => *phys,
        }
    }
}

impl Drop for SharedMem {
    fn drop(&mut self) {
        if let Mem::Pages { ptr, len, .. } = &self.0 {
            // SAFETY: by the type invariant, a live allocation of `len`
            // bytes owned by `self`, freed only here.
            unsafe { ffi::rvirtio_free_pages_exact(ptr.as_ptr().cast(), *len) };
        }
    }
}

/// A device and how it addresses memory: what maps a buffer for it.
#[derive(Clone)]
pub struct DmaDevice {
    dev: ARef<Device>,
    dma_api: bool,
}

impl DmaDevice {
    /// `dev`, given DMA API addresses when `dma_api`, else physical ones
    /// (for a virtio device: `Addressing::uses_dma_api()` of the core's
    /// decision for the negotiated features).
    pub fn new(dev: &Device, dma_api: bool) -> Self {
        Self {
            dev: dev.into(),
            dma_api,
        }
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// Whether buffers are mapped with the DMA API (else physical).
    pub fn uses_dma_api(&self) -> bool {
        self.dma_api
    }

    /// Maps `len` bytes at `ptr` for the device in direction `dir`.
    ///
    /// # Errors
    ///
    /// `ENOMEM` when the DMA API cannot map it, `EINVAL` for a zero
    /// length.
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` must be kernel memory in the linear map (kmalloc,
    /// not vmalloc or the stack) that stays valid, and is not accessed by
    /// the CPU against `dir`, until the returned [`Mapping`] is dropped.
    pub unsafe fn map(&self, ptr: *mut u8, len: usize, dir: DataDirection) -> Result<Mapping> {
        if len == 0 {
            return Err(EINVAL);
        }
        let dma_api = self.dma_api;
        let mut addr: bindings::dma_addr_t = 0;
        // SAFETY: `dev` is a live device (we hold a reference); the caller
        // guarantees the buffer is mappable linear-map memory that outlives
        // the mapping; `addr` is a valid place for the result.
        kernel::error::to_result(unsafe {
            ffi::rvirtio_map_single(
                raw(&self.dev),
                dma_api,
                ptr.cast(),
                len,
                dir as u32,
                &mut addr,
            )
        })?;
        // INVARIANT: the mapping succeeded.
        Ok(Mapping {
            dev: self.dev.clone(),
            dma_api,
            addr,
            len,
            dir,
        })
    }
}

/// A streaming mapping of a buffer the caller owns; unmapped when
/// dropped (nothing to undo for a physical address).
///
/// # Invariants
///
/// `addr` is the device address of `len` bytes at the buffer the mapping
/// was created from, for `dev`, in direction `dir`: from the DMA API when
/// `dma_api` (not yet unmapped), else its physical address.
pub struct Mapping {
    dev: ARef<Device>,
    dma_api: bool,
    addr: bindings::dma_addr_t,
    len: usize,
    dir: DataDirection,
}

impl Mapping {
    /// The address the device uses for the buffer.
    pub fn dma_addr(&self) -> u64 {
        self.addr
    }

    /// The mapped length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never: zero lengths are refused).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `addr` is a live mapping of `len`
        // bytes for `dev` in direction `dir` (or a physical address, which
        // the helper leaves alone); `dev` is kept alive by the reference
        // we hold.
        unsafe {
            ffi::rvirtio_unmap_single(
                raw(&self.dev),
                self.dma_api,
                self.addr,
                self.len,
                self.dir as u32,
            )
        };
    }
}

/// A device that can allocate DMA memory, for KUnit suites that run a
/// virtqueue against a fake device in DMA memory.
///
/// It is a faux device (`/sys/bus/faux/devices/NAME`) given a 64-bit
/// coherent DMA mask, and is removed when dropped.
pub struct TestDmaDevice {
    reg: kernel::faux::Registration,
}

impl TestDmaDevice {
    /// Creates the device.
    pub fn new(name: &CStr) -> Result<Self> {
        let reg = kernel::faux::Registration::new(name, None)?;
        // SAFETY: the device was just created and is not yet used for DMA.
        kernel::error::to_result(unsafe { ffi::rvirtio_dma_coerce_mask(raw(reg.as_ref()), 64) })?;
        Ok(Self { reg })
    }

    /// The device, bound to the faux bus driver.
    pub fn device(&self) -> &Device<Bound> {
        let dev: &Device = self.reg.as_ref();
        // SAFETY: `faux_device_create()` fails unless the faux driver bound
        // the device, and it stays bound until `self.reg` is dropped, which
        // the returned borrow of `self` outlives not.
        unsafe { Device::<Bound>::from_raw(raw(dev)) }
    }
}

/// A buffer owned by its streaming DMA mapping: the CPU cannot reach the
/// bytes while the device may access them; [`MappedBuffer::unmap`] ends
/// the mapping and gives the buffer back. Dropping it unmaps and frees.
pub struct MappedBuffer {
    // Field order is drop order: unmap before freeing.
    mapping: Mapping,
    buf: KVec<u8>,
}

impl MappedBuffer {
    /// Maps all of `buf` (which must not be empty) for `dev` in direction
    /// `dir`. On failure the buffer comes back with the error.
    pub fn map(
        dev: &DmaDevice,
        mut buf: KVec<u8>,
        dir: DataDirection,
    ) -> Result<Self, (Error, KVec<u8>)> {
        let len = buf.len();
        let ptr = buf.as_mut_ptr();
        // SAFETY: `KVec` memory comes from kmalloc (the linear map); the
        // mapping is stored next to the vector, which is never touched,
        // resized or freed while the mapping lives (no accessor exists, and
        // the drop order unmaps first).
        match unsafe { dev.map(ptr, len, dir) } {
            Ok(mapping) => Ok(Self { mapping, buf }),
            Err(e) => Err((e, buf)),
        }
    }

    /// The bus address of the buffer.
    pub fn dma_addr(&self) -> u64 {
        self.mapping.dma_addr()
    }

    /// The buffer's length.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the buffer is empty (never: mapping refuses empty buffers).
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Ends the mapping (syncing the buffer for the CPU) and returns it.
    pub fn unmap(self) -> KVec<u8> {
        let Self { mapping, buf } = self;
        drop(mapping);
        buf
    }
}
