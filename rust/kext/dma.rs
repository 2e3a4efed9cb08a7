// SPDX-License-Identifier: GPL-2.0

//! Streaming DMA mappings, and a DMA-capable device for KUnit suites.
//!
//! The 7.2 kernel crate offers coherent allocations
//! ([`kernel::dma::Coherent`]) but no streaming mappings of memory the
//! driver already owns. Virtio buffers (an rng request buffer, block
//! pages, socket buffers) are mapped for the duration of one request with
//! [`Mapping`], which unmaps when dropped.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use super::{device::raw, ffi};
use kernel::{
    bindings,
    device::{Bound, Device},
    dma::DataDirection,
    prelude::*,
    sync::aref::ARef, //
};

/// A streaming DMA mapping of a buffer the caller owns.
///
/// # Invariants
///
/// `addr` is a successful `dma_map_single()` of `len` bytes at the buffer the
/// mapping was created from, for `dev`, in direction `dir`, not yet unmapped.
pub struct Mapping {
    dev: ARef<Device>,
    addr: bindings::dma_addr_t,
    len: usize,
    dir: DataDirection,
}

impl Mapping {
    /// Maps `len` bytes at `ptr` for `dev` in direction `dir`.
    ///
    /// # Errors
    ///
    /// `ENOMEM` when the mapping fails (`dma_mapping_error()`), `EINVAL` for
    /// a zero length.
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` must be kernel memory in the linear map (kmalloc,
    /// not vmalloc or the stack) that stays valid, and is not accessed by
    /// the CPU against `dir`, until the returned [`Mapping`] is dropped.
    pub unsafe fn map(
        dev: &Device<Bound>,
        ptr: *mut u8,
        len: usize,
        dir: DataDirection,
    ) -> Result<Self> {
        let dev: &Device = dev;
        // SAFETY: the caller's guarantees are those of `map_any`.
        unsafe { Self::map_any(dev, ptr, len, dir) }
    }

    /// [`Mapping::map`] for a device reference of any context: the DMA
    /// operations of a device stay valid for as long as it exists, which
    /// the mapping's reference guarantees.
    ///
    /// # Safety
    ///
    /// As for [`Mapping::map`].
    pub unsafe fn map_any(
        dev: &Device,
        ptr: *mut u8,
        len: usize,
        dir: DataDirection,
    ) -> Result<Self> {
        if len == 0 {
            return Err(EINVAL);
        }
        let rdev = raw(dev);
        // SAFETY: `rdev` is a bound device; the caller guarantees the buffer
        // is mappable linear-map memory that outlives the mapping.
        let addr = unsafe { ffi::rvirtio_dma_map_single(rdev, ptr.cast(), len, dir as u32) };
        // SAFETY: `addr` was just returned by a mapping call for `rdev`.
        if unsafe { ffi::rvirtio_dma_mapping_error(rdev, addr) } != 0 {
            return Err(ENOMEM);
        }
        // INVARIANT: the mapping succeeded.
        Ok(Self {
            dev: dev.into(),
            addr,
            len,
            dir,
        })
    }

    /// The bus address the device uses for the buffer.
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
        // bytes for `dev` in direction `dir`; `dev` is kept alive by the
        // reference we hold.
        unsafe {
            ffi::rvirtio_dma_unmap_single(raw(&self.dev), self.addr, self.len, self.dir as u32)
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
        dev: &Device,
        mut buf: KVec<u8>,
        dir: DataDirection,
    ) -> Result<Self, (Error, KVec<u8>)> {
        let len = buf.len();
        let ptr = buf.as_mut_ptr();
        // SAFETY: `KVec` memory comes from kmalloc (the linear map); the
        // mapping is stored next to the vector, which is never touched,
        // resized or freed while the mapping lives (no accessor exists, and
        // the drop order unmaps first).
        match unsafe { Mapping::map_any(dev, ptr, len, dir) } {
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
