// SPDX-License-Identifier: GPL-2.0

//! ID allocation (`struct ida`): small unique integers, the lowest free
//! one first, so an id freed is handed out again (as disk names are).
//!
//! The 7.2 kernel crate has no IDA. This is the minimal safe part rvirtio
//! needs: the module's own IDA ([`Ida::module`], defined in C by
//! `rust/helpers/ida.c`) and ids that free themselves when dropped.
//!
//! C header: [`include/linux/idr.h`](srctree/include/linux/idr.h)

use kernel::{
    bindings,
    prelude::*,
    types::Opaque, //
};

unsafe extern "C" {
    fn rvirtio_module_ida() -> *mut bindings::ida;
}

/// An IDA.
///
/// # Invariants
///
/// `0` is an initialised `struct ida` that lives for `'static` (the
/// module's, [`Ida::module`]).
#[repr(transparent)]
pub struct Ida(Opaque<bindings::ida>);

// SAFETY: `struct ida` is reached only through `ida_alloc_range` and
// `ida_free`, which take its internal lock (the xarray's, irq-safe).
unsafe impl Sync for Ida {}
// SAFETY: as above; it is not tied to a thread.
unsafe impl Send for Ida {}

impl Ida {
    /// The module's IDA: one per module, empty at load.
    pub fn module() -> &'static Ida {
        // SAFETY: `rvirtio_module_ida` returns the address of the module's
        // static `DEFINE_IDA`, initialised at compile time and alive as long
        // as the module; `Ida` is a transparent wrapper of `struct ida`.
        // INVARIANT: that static is initialised and `'static`.
        unsafe { &*rvirtio_module_ida().cast::<Ida>() }
    }

    /// Allocates the lowest free id in `0..=max`; it is freed when the
    /// returned [`IdaId`] is dropped. Sleeps.
    ///
    /// # Errors
    ///
    /// `ENOSPC` when all are in use, `ENOMEM`.
    pub fn alloc(&self, max: u32) -> Result<IdaId<'_>> {
        // SAFETY: `self.0` is an initialised IDA (type invariant); the call
        // takes its lock.
        let id = unsafe { bindings::ida_alloc_range(self.0.get(), 0, max, bindings::GFP_KERNEL) };
        kernel::error::to_result(id)?;
        // INVARIANT: `ida_alloc_range` returned a free id, now ours.
        let id = u32::try_from(id).map_err(|_| EINVAL)?;
        Ok(IdaId { ida: self, id })
    }
}

/// An id allocated from an [`Ida`], freed when dropped.
///
/// # Invariants
///
/// `id` is allocated in `ida` and owned by this value.
pub struct IdaId<'a> {
    ida: &'a Ida,
    id: u32,
}

impl IdaId<'_> {
    /// The id.
    pub fn get(&self) -> u32 {
        self.id
    }
}

impl Drop for IdaId<'_> {
    fn drop(&mut self) {
        // SAFETY: `id` was allocated in this IDA and is freed once, here
        // (type invariant).
        unsafe { bindings::ida_free(self.ida.0.get(), self.id) };
    }
}
