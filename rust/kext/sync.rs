// SPDX-License-Identifier: GPL-2.0

//! A spinlock that disables local interrupts while held.
//!
//! The 7.2 kernel crate's `SpinLock` uses plain `spin_lock()`, so state it
//! protects must not be touched from a hardirq handler (a handler that
//! interrupts the holder on the same CPU would deadlock). Virtqueues are
//! filled in process context and drained in the interrupt handler, so they
//! are guarded by [`SpinLockIrq`], which uses `spin_lock_irqsave()`.
//!
//! C header: [`include/linux/spinlock.h`](srctree/include/linux/spinlock.h)

use super::ffi;
use kernel::{
    bindings,
    sync::lock::{Backend, Guard, Lock}, //
};

/// A spinlock taken with `spin_lock_irqsave()`; create it with
/// [`new_spinlock_irq!`](crate::new_spinlock_irq).
pub type SpinLockIrq<T> = Lock<T, SpinLockIrqBackend>;

/// A guard of a [`SpinLockIrq`]; local interrupts are off while it lives.
pub type SpinLockIrqGuard<'a, T> = Guard<'a, T, SpinLockIrqBackend>;

/// The [`Backend`] of [`SpinLockIrq`].
pub struct SpinLockIrqBackend;

// SAFETY: `lock` and `try_lock` acquire the spinlock (and only return once it
// is held), `unlock` releases it and restores the interrupt state saved by
// the matching acquisition; the lock is initialised by `init` with the
// kernel's own spinlock initialiser.
unsafe impl Backend for SpinLockIrqBackend {
    type State = bindings::spinlock_t;
    type GuardState = kernel::ffi::c_ulong;

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: the caller passes a pointer valid for writes, and a name
        // and key that live forever.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: the caller guarantees `init` was called on `ptr`.
        unsafe { ffi::rvirtio_spin_lock_irqsave(ptr) }
    }

    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        let mut flags: kernel::ffi::c_ulong = 0;
        // SAFETY: the caller guarantees `init` was called on `ptr`; `flags`
        // is a valid place for the saved interrupt state.
        let got = unsafe { ffi::rvirtio_spin_trylock_irqsave(ptr, &mut flags) };
        (got != 0).then_some(flags)
    }

    unsafe fn unlock(ptr: *mut Self::State, guard_state: &Self::GuardState) {
        // SAFETY: the caller owns the lock; `guard_state` is what the
        // matching `lock` or `try_lock` saved.
        unsafe { ffi::rvirtio_spin_unlock_irqrestore(ptr, *guard_state) }
    }

    /// Runs on every acquisition (`Guard::new`); without lockdep the C
    /// assertion is empty, so the call of its helper is skipped.
    #[inline(always)]
    unsafe fn assert_is_held(_ptr: *mut Self::State) {
        #[cfg(CONFIG_LOCKDEP)]
        // SAFETY: the caller guarantees `init` was called on `_ptr`.
        unsafe {
            bindings::spin_assert_is_held(_ptr)
        }
    }
}

/// Creates a [`SpinLockIrq`] initialiser with a static lock class.
#[macro_export]
macro_rules! new_spinlock_irq {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::kext::sync::SpinLockIrq::new(
            $inner,
            ::kernel::optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}
