// SPDX-License-Identifier: GPL-2.0

//! MMIO pieces for virtio-mmio: a register window mapped by physical
//! address (`ioremap()`, optionally claimed with `request_mem_region()`),
//! platform devices created from a module parameter
//! (`platform_device_register_full()`), and that parameter itself (a
//! string, which 7.2's `module!` cannot declare: its C half is
//! `rust/helpers/mmio.c`).
//!
//! 7.2's `kernel::io::mem::IoMem` borrows the bound device, so it cannot
//! live in the `'static`, `Arc`-shared transport of a device; this window
//! owns its mapping instead, and the framework revokes it on removal.
//!
//! C headers: [`include/linux/io.h`](srctree/include/linux/io.h),
//! [`include/linux/ioport.h`](srctree/include/linux/ioport.h),
//! [`include/linux/platform_device.h`](srctree/include/linux/platform_device.h)

use core::ptr::NonNull;
use kernel::{bindings, prelude::*};

/// A mapped MMIO register window, accessed with `readl()`/`writel()` and
/// friends (little-endian device registers, CPU-order values). Every
/// access is bounds- and alignment-checked against the mapped length.
///
/// # Invariants
///
/// `addr` is a live `ioremap()` mapping of `len` bytes at physical
/// address `start`; if `claimed`, `[start, start + len)` was requested
/// with `__request_region()` on `iomem_resource`.
pub struct IoWindow {
    addr: NonNull<kernel::ffi::c_void>,
    start: u64,
    len: usize,
    claimed: bool,
}

// SAFETY: the mapping is a kernel virtual address usable from any context
// and thread; `readl()`/`writel()` have no thread affinity.
unsafe impl Send for IoWindow {}
// SAFETY: as above; concurrent accesses are the device's business.
unsafe impl Sync for IoWindow {}

impl IoWindow {
    /// Claims `[start, start + len)` under `name` (shown in `/proc/iomem`)
    /// and maps it.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an empty or wrapping range, `EBUSY` if another driver
    /// holds the range, `ENOMEM` when mapping fails.
    pub fn claim(start: u64, len: usize, name: &'static CStr) -> Result<Self> {
        // CAST: `usize` is at most 64 bits.
        let len64 = len as u64;
        if len == 0 || start.checked_add(len64).is_none() {
            return Err(EINVAL);
        }
        // SAFETY: `iomem_resource` is the kernel's root of memory resources;
        // `__request_region` takes its own lock. `name` is static, so it
        // outlives the claim.
        let r = unsafe {
            bindings::__request_region(
                &raw mut bindings::iomem_resource,
                start,
                len64,
                name.as_char_ptr(),
                0,
            )
        };
        if r.is_null() {
            return Err(EBUSY);
        }
        match Self::map_raw(start, len) {
            Ok(addr) => Ok(Self {
                addr,
                start,
                len,
                claimed: true,
            }),
            Err(e) => {
                // SAFETY: balanced with the successful request above.
                unsafe {
                    bindings::__release_region(&raw mut bindings::iomem_resource, start, len64)
                };
                Err(e)
            }
        }
    }

    /// Maps `[start, start + len)` without claiming it, to peek at a
    /// device another driver may own (read-only use: identification).
    pub fn peek(start: u64, len: usize) -> Result<Self> {
        // CAST: `usize` is at most 64 bits.
        if len == 0 || start.checked_add(len as u64).is_none() {
            return Err(EINVAL);
        }
        let addr = Self::map_raw(start, len)?;
        Ok(Self {
            addr,
            start,
            len,
            claimed: false,
        })
    }

    fn map_raw(start: u64, len: usize) -> Result<NonNull<kernel::ffi::c_void>> {
        // SAFETY: `ioremap` accepts any range; it fails (NULL) for one it
        // cannot map, such as RAM.
        let p = unsafe { bindings::ioremap(start, len) };
        NonNull::new(p).ok_or(ENOMEM)
    }

    /// Length of the mapping.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Physical address of the window.
    pub fn start(&self) -> u64 {
        self.start
    }

    fn at(&self, off: usize, width: usize) -> Result<*mut kernel::ffi::c_void> {
        if !super::io::access_ok(off, width, self.len) {
            return Err(EINVAL);
        }
        // SAFETY: `off + width <= len`: inside the mapping (type invariant).
        Ok(unsafe { self.addr.as_ptr().cast::<u8>().add(off).cast() })
    }

    /// Reads the little-endian `u32` at `off` (`readl()`).
    pub fn read32(&self, off: usize) -> Result<u32> {
        let p = self.at(off, 4)?;
        // SAFETY: `p` lies inside the live mapping and is aligned.
        Ok(unsafe { bindings::readl(p) })
    }

    /// Reads the little-endian `u16` at `off` (`readw()`).
    pub fn read16(&self, off: usize) -> Result<u16> {
        let p = self.at(off, 2)?;
        // SAFETY: `p` lies inside the live mapping and is aligned.
        Ok(unsafe { bindings::readw(p) })
    }

    /// Reads the byte at `off` (`readb()`).
    pub fn read8(&self, off: usize) -> Result<u8> {
        let p = self.at(off, 1)?;
        // SAFETY: `p` lies inside the live mapping.
        Ok(unsafe { bindings::readb(p) })
    }

    /// Writes the little-endian `u32` `v` at `off` (`writel()`).
    pub fn write32(&self, off: usize, v: u32) -> Result {
        let p = self.at(off, 4)?;
        // SAFETY: `p` lies inside the live mapping and is aligned.
        unsafe { bindings::writel(v, p) };
        Ok(())
    }

    /// Writes the little-endian `u16` `v` at `off` (`writew()`).
    pub fn write16(&self, off: usize, v: u16) -> Result {
        let p = self.at(off, 2)?;
        // SAFETY: `p` lies inside the live mapping and is aligned.
        unsafe { bindings::writew(v, p) };
        Ok(())
    }

    /// Writes the byte `v` at `off` (`writeb()`).
    pub fn write8(&self, off: usize, v: u8) -> Result {
        let p = self.at(off, 1)?;
        // SAFETY: `p` lies inside the live mapping.
        unsafe { bindings::writeb(v, p) };
        Ok(())
    }
}

impl Drop for IoWindow {
    fn drop(&mut self) {
        // SAFETY: `addr` is a live mapping (type invariant).
        unsafe { bindings::iounmap(self.addr.as_ptr()) };
        if self.claimed {
            // CAST: `usize` is at most 64 bits.
            // SAFETY: balanced with the request in `claim` (type invariant).
            unsafe {
                bindings::__release_region(
                    &raw mut bindings::iomem_resource,
                    self.start,
                    self.len as u64,
                )
            };
        }
    }
}

/// A platform device this module created (`platform_device_register_full()`
/// with a memory and an IRQ resource), unregistered when dropped.
///
/// # Invariants
///
/// `pdev` is a registered platform device this object owns.
pub struct PlatformDeviceReg {
    pdev: NonNull<bindings::platform_device>,
}

// SAFETY: a registered platform device may be unregistered from any
// thread; the pointer is only used for that.
unsafe impl Send for PlatformDeviceReg {}
// SAFETY: `&PlatformDeviceReg` gives no access to the device.
unsafe impl Sync for PlatformDeviceReg {}

impl PlatformDeviceReg {
    /// Registers platform device `name`.`id` with the register window
    /// `[base, base + size)` and interrupt `irq`. A driver named `name`
    /// binds it by name.
    pub fn register(name: &'static CStr, id: i32, base: u64, size: u64, irq: u32) -> Result<Self> {
        let end = base
            .checked_add(size)
            .and_then(|e| e.checked_sub(1))
            .ok_or(EINVAL)?;
        let res = [
            bindings::resource {
                start: base,
                end,
                // CAST: lossless widening of the IORESOURCE_* bits.
                flags: bindings::IORESOURCE_MEM as kernel::ffi::c_ulong,
                ..Default::default()
            },
            bindings::resource {
                start: u64::from(irq),
                end: u64::from(irq),
                // CAST: lossless widening of the IORESOURCE_* bits.
                flags: bindings::IORESOURCE_IRQ as kernel::ffi::c_ulong,
                ..Default::default()
            },
        ];
        let info = bindings::platform_device_info {
            name: name.as_char_ptr(),
            id,
            res: res.as_ptr(),
            // CAST: two resources.
            num_res: res.len() as u32,
            ..Default::default()
        };
        // SAFETY: `info` and `res` are valid for the call, which copies
        // the resources; `name` is static (the device keeps a pointer to
        // its own copy).
        let p = unsafe { bindings::platform_device_register_full(&info) };
        let p = kernel::error::from_err_ptr(p)?;
        let pdev = NonNull::new(p).ok_or(ENOMEM)?;
        // INVARIANT: registered above.
        Ok(Self { pdev })
    }
}

impl Drop for PlatformDeviceReg {
    fn drop(&mut self) {
        // SAFETY: registered and owned (type invariant); unbinds the driver
        // first if one is bound.
        unsafe { bindings::platform_device_unregister(self.pdev.as_ptr()) };
    }
}

/// The value of this module's `device` parameter (every value it was
/// given, separated by spaces), see `rust/helpers/mmio.c`.
pub fn device_param() -> &'static [u8] {
    // SAFETY: the helper returns a NUL-terminated static buffer; module
    // parameters are set before the module's init runs and the parameter
    // is read-only afterwards (permission 0444), so it no longer changes.
    let p = unsafe { super::ffi::rvirtio_mmio_device_param() };
    if p.is_null() {
        return &[];
    }
    // SAFETY: as above: a NUL-terminated string that lives as long as the
    // module.
    unsafe { CStr::from_char_ptr(p) }.to_bytes()
}
