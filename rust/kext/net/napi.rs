// SPDX-License-Identifier: GPL-2.0

//! NAPI contexts: one per receive queue and one per transmit queue,
//! made with the interface ([`Registration::new`]) and deleted with it.
//! The driver schedules one from its interrupt handler and does the work
//! in [`NetDeviceOps::poll`], which gets a [`NapiPoll`].

use super::*;

/// A NAPI context, borrowed for `'a` from its interface.
///
/// # Invariants
///
/// `0` is a NAPI context of an interface made by [`Registration::new`]
/// that is not freed for `'a`.
#[derive(Clone, Copy)]
pub struct Napi<'a>(NonNull<RawNapi>, PhantomData<&'a RawNapi>);

// SAFETY: the NAPI functions the shim calls are safe from any context
// their documentation below names.
unsafe impl Send for Napi<'_> {}
// SAFETY: as above.
unsafe impl Sync for Napi<'_> {}

impl<'a> Napi<'a> {
    /// # Safety
    ///
    /// `raw` is a NAPI context of an interface made by
    /// [`Registration::new`] that is not freed for `'a`.
    pub(super) unsafe fn from_raw(raw: NonNull<RawNapi>) -> Self {
        // INVARIANT: as the caller promises.
        Self(raw, PhantomData)
    }

    fn raw(&self) -> *mut RawNapi {
        self.0.as_ptr()
    }

    /// Enables the context (in `open`; nothing if it is enabled). Sleeps:
    /// RTNL held, process context.
    pub fn enable(&self, _rtnl: &Rtnl<'_>) {
        // SAFETY: a live context (type invariant); the shim enables it at
        // most once per disable.
        unsafe { rvirtio_napi_enable(self.raw()) }
    }

    /// Disables the context, waiting for a running poll to end (in
    /// `stop`; nothing if it is disabled). Sleeps: RTNL held, process
    /// context (never from a poll or an interrupt, which hold no
    /// [`Rtnl`]).
    pub fn disable(&self, _rtnl: &Rtnl<'_>) {
        // SAFETY: a live context; the shim disables only an enabled one.
        unsafe { rvirtio_napi_disable(self.raw()) }
    }

    /// Schedules a poll, unless one is scheduled already or the context is
    /// disabled; `before` runs first when it will be (to switch the
    /// queue's interrupts off). Returns whether it was scheduled. From any
    /// context, the interrupt handler included.
    pub fn schedule(&self, before: impl FnOnce()) -> bool {
        // SAFETY: a live context.
        if !unsafe { rvirtio_napi_schedule_prep(self.raw()) } {
            return false;
        }
        before();
        // SAFETY: a live context, claimed just above (so listed once).
        unsafe { rvirtio_napi_schedule(self.raw()) };
        true
    }
}

/// A NAPI context during its poll: what only a poll may do (allocate and
/// hand packets to GRO, in softirq; end the poll). Made by the shim's
/// poll trampoline only, so it exists only inside
/// [`NetDeviceOps::poll`].
#[derive(Clone, Copy)]
pub struct NapiPoll<'a>(Napi<'a>);

impl<'a> NapiPoll<'a> {
    /// # Safety
    ///
    /// Called only from the context's poll, for its duration.
    pub(super) unsafe fn new(napi: Napi<'a>) -> Self {
        Self(napi)
    }

    /// The context, to schedule it again.
    pub fn napi(&self) -> Napi<'a> {
        self.0
    }

    fn raw(&self) -> *mut RawNapi {
        self.0.raw()
    }

    /// Ends a poll that did `work` (less than its budget); `false` when
    /// the context must stay scheduled (busy polling, or it was
    /// rescheduled meanwhile): then the queue's interrupts stay off.
    pub fn complete_done(&self, work: u32) -> bool {
        let work = kernel::ffi::c_int::try_from(work).unwrap_or(kernel::ffi::c_int::MAX);
        // SAFETY: a live context, in its poll.
        unsafe { rvirtio_napi_complete_done(self.raw(), work) }
    }

    /// An skb with `len` bytes of linear room, for a received packet.
    pub fn alloc_skb(&self, len: u32) -> Option<RxSkb> {
        // SAFETY: a live context, in its poll (softirq).
        let p = NonNull::new(unsafe { rvirtio_napi_alloc_skb(self.raw(), len) })?;
        // SAFETY: a new skb, ours.
        Some(unsafe { RxSkb::from_raw(p) })
    }

    /// Hands a received packet to the stack (the Ethernet header parsed,
    /// then GRO).
    pub fn gro_receive(&self, skb: RxSkb) {
        let p = skb.into_raw();
        // SAFETY: a live context, in its poll; the skb is ours to give.
        unsafe { rvirtio_napi_gro_receive(self.raw(), p) }
    }
}
