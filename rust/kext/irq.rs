// SPDX-License-Identifier: GPL-2.0

//! Interrupt handlers on any Linux IRQ number, whatever bus it came from
//! (a PCI MSI-X vector or INTx line, a platform device's interrupt
//! resource, ...). 7.2's safe `irq::Registration` is tied to the bus's
//! `IrqRequest`, which reaches only some vectors; this one takes the
//! number.
//!
//! C header: [`include/linux/interrupt.h`](srctree/include/linux/interrupt.h)

use core::{
    marker::PhantomPinned,
    sync::atomic::{AtomicBool, Ordering}, //
};
use kernel::{bindings, prelude::*};

/// A Linux interrupt number that belongs to a device this module drives,
/// for steering it ([`set_affinity`]). Only the framework makes one (its
/// constructor is unsafe), from a vector it allocated and frees after the
/// driver's data, which holds the number, is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqNumber(u32);

impl IrqNumber {
    /// # Safety
    ///
    /// `irq` is an interrupt of a device this module drives, allocated
    /// for as long as the value is used.
    pub unsafe fn new(irq: u32) -> Self {
        Self(irq)
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// What an interrupt handler returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqReturn {
    /// The interrupt was not from this device (a shared INTx line).
    None,
    /// The interrupt was handled.
    Handled,
}

/// A hardirq handler.
pub trait IrqHandler: Sync {
    /// Handles an interrupt. Runs in hardirq context: must not sleep.
    fn handle(&self) -> IrqReturn;
}

/// A handler registered on one IRQ (`request_irq()`), freed when dropped.
///
/// Create it pinned (e.g. in a `KBox::pin_init`), then call
/// [`IrqRegistration::request`].
#[pin_data(PinnedDrop)]
pub struct IrqRegistration<T: IrqHandler> {
    handler: T,
    irq: u32,
    requested: AtomicBool,
    #[pin]
    _pin: PhantomPinned,
}

impl<T: IrqHandler> IrqRegistration<T> {
    /// A registration of `handler` on `irq`, not yet requested.
    pub fn new(irq: u32, handler: T) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            handler,
            irq,
            requested: AtomicBool::new(false),
            _pin: PhantomPinned,
        }? Error)
    }

    /// The handler.
    pub fn handler(&self) -> &T {
        &self.handler
    }

    /// Requests the IRQ; `shared` for a shared INTx line.
    pub fn request(self: Pin<&Self>, name: &'static CStr, shared: bool) -> Result {
        if self.requested.load(Ordering::Relaxed) {
            return Err(EBUSY);
        }
        let flags = if shared { bindings::IRQF_SHARED } else { 0 };
        let cookie = core::ptr::from_ref(self.get_ref()).cast_mut().cast();
        // SAFETY: `cookie` points to this pinned registration, which frees
        // the IRQ in its destructor before the memory goes away, so the
        // handler never sees a dangling pointer; `name` is static.
        kernel::error::to_result(unsafe {
            bindings::request_threaded_irq(
                self.irq,
                Some(Self::trampoline),
                None,
                // CAST: lossless widening of the IRQF_* bits.
                flags as usize,
                name.as_char_ptr(),
                cookie,
            )
        })?;
        self.requested.store(true, Ordering::Release);
        Ok(())
    }

    /// Waits for running instances of the handler to finish.
    pub fn synchronize(&self) {
        // SAFETY: `synchronize_irq` accepts any IRQ number.
        unsafe { bindings::synchronize_irq(self.irq) };
    }

    /// # Safety
    ///
    /// Called by the IRQ core with the cookie given to `request_threaded_irq`.
    unsafe extern "C" fn trampoline(
        _irq: kernel::ffi::c_int,
        cookie: *mut kernel::ffi::c_void,
    ) -> bindings::irqreturn_t {
        // SAFETY: the cookie is the registration, alive until `free_irq()`
        // in its destructor returns.
        let this = unsafe { &*cookie.cast::<Self>() };
        match this.handler.handle() {
            IrqReturn::None => bindings::irqreturn_IRQ_NONE,
            IrqReturn::Handled => bindings::irqreturn_IRQ_HANDLED,
        }
    }
}

#[pinned_drop]
impl<T: IrqHandler> PinnedDrop for IrqRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        if self.requested.load(Ordering::Acquire) {
            let cookie = core::ptr::from_ref(&*self).cast_mut().cast();
            // SAFETY: the IRQ was requested with this cookie; `free_irq`
            // waits for running handlers before returning.
            unsafe { bindings::free_irq(self.irq, cookie) };
        }
    }
}
