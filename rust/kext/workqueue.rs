// SPDX-License-Identifier: GPL-2.0

//! Work item teardown the 7.2 kernel crate lacks.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use kernel::workqueue::Work;

/// Cancels `work` and waits for a running instance to finish
/// (`cancel_work_sync()`): after it returns the work is neither queued nor
/// running, so what it uses may go away. Returns whether it was pending.
pub fn cancel_sync<T: ?Sized, const ID: u64>(work: &Work<T, ID>) -> bool {
    // SAFETY: `work` is a live, initialised work item (`Work` is only built
    // through its initialiser); `raw_get` only computes the field address.
    unsafe { kernel::bindings::cancel_work_sync(Work::raw_get(work)) }
}

/// Cancels the delayed work item `work` (its timer too) and waits for a
/// running instance to finish (`cancel_delayed_work_sync()`), even one
/// that queues itself again: after it returns the work is neither pending
/// nor running. Returns whether it was pending.
pub fn cancel_delayed_sync<T: ?Sized, const ID: u64>(
    work: &kernel::workqueue::DelayedWork<T, ID>,
) -> bool {
    // The work is the first member of `struct delayed_work`.
    const { assert!(core::mem::offset_of!(kernel::bindings::delayed_work, work) == 0) };
    // SAFETY: `work` is a live reference, so aligned and not dangling.
    let w = unsafe { kernel::workqueue::DelayedWork::raw_as_work(work) };
    // SAFETY: `w` is the `work_struct` at offset 0 of the live, initialised
    // `delayed_work` inside `work`, so it is that `delayed_work`'s address.
    unsafe { kernel::bindings::cancel_delayed_work_sync(w.cast()) }
}
