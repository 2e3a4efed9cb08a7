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
