// SPDX-License-Identifier: GPL-2.0

//! PCI pieces the 7.2 kernel crate lacks: checked config reads, BAR
//! sub-regions accessed with `ioread*()`/`iowrite*()` (memory and I/O
//! BARs alike; 7.2 has no port I/O binding), device enabling with I/O
//! space, and MSI-X vectors with affinity spreading (the handlers on them
//! are [`super::irq::IrqRegistration`]s).
//!
//! C headers: [`include/linux/pci.h`](srctree/include/linux/pci.h),
//! [`include/linux/interrupt.h`](srctree/include/linux/interrupt.h),
//! [`include/asm-generic/iomap.h`](srctree/include/asm-generic/iomap.h)

use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Bound,
    pci,
    prelude::*,
    sync::aref::ARef, //
};

/// The `struct pci_dev *` behind `pdev`.
fn raw<Ctx: kernel::device::DeviceContext>(pdev: &pci::Device<Ctx>) -> *mut bindings::pci_dev {
    // CAST: `pci::Device<Ctx>` is `#[repr(transparent)]` over
    // `Opaque<bindings::pci_dev>` (plus a zero-sized marker) and `Opaque<T>`
    // is `#[repr(transparent)]` over `T`.
    core::ptr::from_ref(pdev)
        .cast::<bindings::pci_dev>()
        .cast_mut()
}

/// Reads a config space byte; `None` on a failed read or an offset past
/// the 256-byte standard header.
pub fn config_read8(pdev: &pci::Device<Bound>, offset: u16) -> Option<u8> {
    if offset >= 256 {
        return None;
    }
    let mut v = 0u8;
    // SAFETY: `raw(pdev)` is a valid bound `pci_dev`; `v` is a valid place
    // for the byte.
    let rc = unsafe { bindings::pci_read_config_byte(raw(pdev), i32::from(offset), &mut v) };
    (rc == 0).then_some(v)
}

/// The length of BAR `bar` (0 for an unimplemented one), and whether it is
/// an I/O port BAR.
pub fn bar_info(pdev: &pci::Device<Bound>, bar: u8) -> (u64, bool) {
    let len = pdev.resource_len(u32::from(bar)).unwrap_or(0);
    // `resource_len` succeeding checked `bar < 6`; the resource array has
    // `PCI_NUM_RESOURCES` entries.
    let flags = if len == 0 {
        0
    } else {
        // SAFETY: as above; reading the flags of a live `pci_dev`.
        unsafe { (*raw(pdev)).resource.get(usize::from(bar)) }.map_or(0, |r| r.flags)
    };
    // CAST: resource flags fit `u32` (the IORESOURCE_* bits are low).
    (len, flags as u32 & bindings::IORESOURCE_IO != 0)
}

/// An enabled PCI device (memory and I/O decoding on, bus mastering on);
/// disabled again when dropped.
pub struct Enabled {
    pdev: ARef<pci::Device>,
}

impl Enabled {
    /// Enables `pdev` (`pci_enable_device()` and `pci_set_master()`).
    pub fn new(pdev: &pci::Device<Bound>) -> Result<Self> {
        // SAFETY: `raw(pdev)` is a valid bound `pci_dev`.
        kernel::error::to_result(unsafe { bindings::pci_enable_device(raw(pdev)) })?;
        // SAFETY: the device was just enabled.
        unsafe { bindings::pci_set_master(raw(pdev)) };
        Ok(Self { pdev: pdev.into() })
    }

    /// Stops the device's DMA (`pci_clear_master()`).
    pub fn clear_master(&self) {
        // SAFETY: `self.pdev` is a live, enabled device.
        unsafe { bindings::pci_clear_master(raw(&self.pdev)) };
    }
}

impl Drop for Enabled {
    fn drop(&mut self) {
        // SAFETY: balanced with the `pci_enable_device()` in `new`.
        unsafe { bindings::pci_disable_device(raw(&self.pdev)) };
    }
}

/// Ownership of one BAR (`pci_request_region()`), released when dropped.
pub struct BarClaim {
    pdev: ARef<pci::Device>,
    bar: u8,
}

impl BarClaim {
    /// Claims BAR `bar` of `pdev` under `name` (shown in `/proc/iomem` or
    /// `/proc/ioports`).
    pub fn new(pdev: &pci::Device<Bound>, bar: u8, name: &'static CStr) -> Result<Self> {
        if bar > 5 {
            return Err(EINVAL);
        }
        // SAFETY: valid bound device, BAR index checked, `name` is static.
        kernel::error::to_result(unsafe {
            bindings::pci_request_region(raw(pdev), i32::from(bar), name.as_char_ptr())
        })?;
        Ok(Self {
            pdev: pdev.into(),
            bar,
        })
    }
}

impl Drop for BarClaim {
    fn drop(&mut self) {
        // SAFETY: balanced with the successful request in `new`.
        unsafe { bindings::pci_release_region(raw(&self.pdev), i32::from(self.bar)) };
    }
}

/// A mapped part of a BAR, accessed with `ioread*()`/`iowrite*()` so that
/// memory and I/O port BARs work alike. Every access is bounds- and
/// alignment-checked against the mapped length.
///
/// # Invariants
///
/// `addr` is a live `pci_iomap_range()` cookie of `len` bytes for `pdev`.
pub struct IoRegion {
    pdev: ARef<pci::Device>,
    addr: NonNull<kernel::ffi::c_void>,
    len: usize,
}

// SAFETY: the cookie is a bus address usable from any context and thread;
// `ioread*()`/`iowrite*()` have no thread affinity.
unsafe impl Send for IoRegion {}
// SAFETY: as above; concurrent accesses are the device's business.
unsafe impl Sync for IoRegion {}

impl IoRegion {
    /// Maps `len` bytes at `offset` of BAR `bar`, where `offset` and `len`
    /// come from the device (validated here against the BAR's size).
    ///
    /// # Errors
    ///
    /// `EINVAL` for an empty or out-of-BAR range, `ENOMEM` when mapping
    /// fails.
    pub fn map(pdev: &pci::Device<Bound>, bar: u8, offset: u64, len: usize) -> Result<Self> {
        let (bar_len, _) = bar_info(pdev, bar);
        // `offset as usize` below is lossless: `usize` is 64-bit here.
        // CAST: `usize` is at most 64 bits.
        let end = offset.checked_add(len as u64).ok_or(EINVAL)?;
        if len == 0 || end > bar_len {
            return Err(EINVAL);
        }
        // SAFETY: valid bound device; the range was checked to lie in the BAR.
        let p =
            unsafe { bindings::pci_iomap_range(raw(pdev), i32::from(bar), offset as usize, len) };
        let addr = NonNull::new(p).ok_or(ENOMEM)?;
        // INVARIANT: `addr` is a successful mapping of `len` bytes.
        Ok(Self {
            pdev: pdev.into(),
            addr,
            len,
        })
    }

    /// Length of the mapping.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn at(&self, off: usize, width: usize) -> Result<*mut kernel::ffi::c_void> {
        if !super::io::access_ok(off, width, self.len) {
            return Err(EINVAL);
        }
        // SAFETY: `off + width <= len`: inside the mapping (type invariant).
        Ok(unsafe { self.addr.as_ptr().cast::<u8>().add(off).cast() })
    }

    /// Reads a byte at `off`.
    pub fn read8(&self, off: usize) -> Result<u8> {
        let p = self.at(off, 1)?;
        // SAFETY: `p` lies inside the live mapping.
        let v = unsafe { bindings::ioread8(p) };
        // CAST: `ioread8()` returns the byte in a wider C type.
        Ok(v as u8)
    }

    /// Reads a little-endian 16-bit value at `off`.
    pub fn read16(&self, off: usize) -> Result<u16> {
        let p = self.at(off, 2)?;
        // SAFETY: `p` lies inside the live mapping and is aligned.
        let v = unsafe { bindings::ioread16(p) };
        // CAST: `ioread16()` returns the value in a wider C type.
        Ok(v as u16)
    }

    /// Reads a little-endian 32-bit value at `off`.
    pub fn read32(&self, off: usize) -> Result<u32> {
        let p = self.at(off, 4)?;
        // SAFETY: `p` lies inside the live mapping and is aligned.
        Ok(unsafe { bindings::ioread32(p) })
    }

    /// Writes a byte at `off`.
    pub fn write8(&self, off: usize, v: u8) -> Result {
        let p = self.at(off, 1)?;
        // SAFETY: `p` lies inside the live mapping.
        unsafe { bindings::iowrite8(v, p) };
        Ok(())
    }

    /// Writes a little-endian 16-bit value at `off`.
    pub fn write16(&self, off: usize, v: u16) -> Result {
        let p = self.at(off, 2)?;
        // SAFETY: `p` lies inside the live mapping and is aligned.
        unsafe { bindings::iowrite16(v, p) };
        Ok(())
    }

    /// Writes a little-endian 32-bit value at `off`.
    pub fn write32(&self, off: usize, v: u32) -> Result {
        let p = self.at(off, 4)?;
        // SAFETY: `p` lies inside the live mapping and is aligned.
        unsafe { bindings::iowrite32(v, p) };
        Ok(())
    }
}

impl Drop for IoRegion {
    fn drop(&mut self) {
        // SAFETY: `addr` is a live mapping for `pdev` (type invariant).
        unsafe { bindings::pci_iounmap(raw(&self.pdev), self.addr.as_ptr()) };
    }
}

/// The kind of interrupt vectors allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorKind {
    /// MSI-X, one vector per source.
    MsiX,
    /// The legacy INTx line (shared, one vector).
    Intx,
}

/// Interrupt vectors of a device (`pci_alloc_irq_vectors*()`), freed when
/// dropped. Free every [`super::irq::IrqRegistration`] on them first.
pub struct IrqVectors {
    pdev: ARef<pci::Device>,
    count: u32,
    kind: VectorKind,
}

impl IrqVectors {
    /// Allocates exactly `count` MSI-X vectors. With `spread`, the vectors
    /// after the first `pre` are spread over the CPUs (managed affinity:
    /// `PCI_IRQ_AFFINITY`), like the per-queue vectors of the C driver.
    pub fn msix(pdev: &pci::Device<Bound>, count: u32, pre: u32, spread: bool) -> Result<Self> {
        if count == 0 {
            return Err(EINVAL);
        }
        let mut affd = bindings::irq_affinity {
            pre_vectors: pre,
            ..Default::default()
        };
        let mut flags = bindings::PCI_IRQ_MSIX;
        let affd_ptr = if spread && count > pre {
            flags |= bindings::PCI_IRQ_AFFINITY;
            &raw mut affd
        } else {
            core::ptr::null_mut()
        };
        // SAFETY: valid bound device; `affd` outlives the call.
        let n = unsafe {
            bindings::pci_alloc_irq_vectors_affinity(raw(pdev), count, count, flags, affd_ptr)
        };
        kernel::error::to_result(n)?;
        Ok(Self {
            pdev: pdev.into(),
            count,
            kind: VectorKind::MsiX,
        })
    }

    /// Allocates the INTx line.
    pub fn intx(pdev: &pci::Device<Bound>) -> Result<Self> {
        // SAFETY: valid bound device; no affinity descriptor.
        let n = unsafe {
            bindings::pci_alloc_irq_vectors_affinity(
                raw(pdev),
                1,
                1,
                bindings::PCI_IRQ_INTX,
                core::ptr::null_mut(),
            )
        };
        kernel::error::to_result(n)?;
        Ok(Self {
            pdev: pdev.into(),
            count: 1,
            kind: VectorKind::Intx,
        })
    }

    /// How the vectors were allocated.
    pub fn kind(&self) -> VectorKind {
        self.kind
    }

    /// Number of vectors.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The Linux IRQ number of vector `index`.
    pub fn irq(&self, index: u32) -> Result<u32> {
        if index >= self.count {
            return Err(EINVAL);
        }
        // SAFETY: the vectors are allocated and `index` is below their count.
        let irq = unsafe { bindings::pci_irq_vector(raw(&self.pdev), index) };
        kernel::error::to_result(irq)?;
        // CAST: checked non-negative above.
        Ok(irq as u32)
    }
}

impl Drop for IrqVectors {
    fn drop(&mut self) {
        // SAFETY: balanced with the successful allocation.
        unsafe { bindings::pci_free_irq_vectors(raw(&self.pdev)) };
    }
}
