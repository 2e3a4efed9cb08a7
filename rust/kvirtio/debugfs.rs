// SPDX-License-Identifier: GPL-2.0

//! Per-device state in debugfs, for every rvirtio device: what
//! `/sys/bus/virtio/devices/*` shows for the C core, and per-queue
//! statistics.
//!
//! ```text
//! /sys/kernel/debug/<module>/<device>/device   device id, transport, status,
//!                                              offered and negotiated features,
//!                                              DMA addressing, DMA segment size
//! /sys/kernel/debug/<module>/<device>/queues   per queue: size, ring, counters
//! ```
//!
//! `<module>` is the driver module (`rvirtio_blk`), `<device>` the bus
//! device (`0000:00:05.0`, `LNRO0005:00`). The module's directory lives
//! as long as the module ([`Root`], kept by
//! [`module_virtio_driver!`](crate::module_virtio_driver)); a device's
//! directory as long as the device is bound. Without `CONFIG_DEBUG_FS`
//! nothing is created.

use super::{queue::QueueInfo, transport::DeviceTransport};
use crate::{
    kext::dma,
    virtio::{dma::Addressing, features::Features, spec::DeviceId, transport::Transport},
};
use core::{
    fmt,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{
    debugfs::{Dir, File},
    device::{Bound, Device},
    prelude::*,
    sync::{aref::ARef, Arc}, //
};

kernel::sync::global_lock! {
    // SAFETY: initialized once, by the first `Root::new`, before any use
    // (see `Root::new`).
    unsafe(uninit) static ROOT: Mutex<Option<Dir>> = None;
}

/// Whether [`ROOT`] was initialized (module statics start zeroed at each
/// load of the module).
static ROOT_READY: AtomicBool = AtomicBool::new(false);

/// The module's debugfs directory; removed when dropped.
pub struct Root(());

impl Root {
    /// Creates `/sys/kernel/debug/<name>/`. Called once, at module init.
    pub fn new(name: &'static CStr) -> Self {
        if !ROOT_READY.swap(true, Ordering::AcqRel) {
            // SAFETY: the flag makes this the only call of `init`, and it
            // happens before any `lock` (both go through the flag).
            unsafe { ROOT.init() };
        }
        *ROOT.lock() = Some(Dir::new(name));
        Self(())
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        *ROOT.lock() = None;
    }
}

/// A subdirectory of the module's directory, or `None` without one.
fn device_dir(name: &CStr) -> Option<Dir> {
    if !ROOT_READY.load(Ordering::Acquire) {
        return None;
    }
    ROOT.lock().as_ref().map(|root| root.subdir(name))
}

/// The `device` file.
struct DeviceState {
    transport: Arc<DeviceTransport>,
    offered: Features,
    negotiated: Features,
    addressing: Addressing,
    dev: ARef<Device>,
}

impl fmt::Debug for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.transport;
        let DeviceId(id) = t.device_id();
        writeln!(f, "device id: {}", id)?;
        writeln!(f, "transport: {:?}", t.kind())?;
        match t.read_status() {
            Ok(s) => writeln!(f, "status: {:#04x}", s.bits())?,
            Err(_) => writeln!(f, "status: unavailable")?,
        }
        writeln!(f, "offered: {:?}", self.offered)?;
        writeln!(f, "negotiated: {:?}", self.negotiated)?;
        writeln!(f, "addressing: {}", self.addressing.name())?;
        writeln!(f, "dma max segment: {}", dma::max_segment_size(&self.dev))
    }
}

/// The `queues` file.
struct QueuesState {
    queues: KVec<Arc<dyn QueueInfo>>,
}

impl fmt::Debug for QueuesState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for q in self.queues.iter() {
            let r = q.ring();
            writeln!(
                f,
                "queue {}: size {} free {} ring {}{}{}{} {}",
                q.index(),
                q.size(),
                r.free,
                r.layout,
                if r.indirect { " indirect" } else { "" },
                if r.event_idx { " event_idx" } else { "" },
                if r.broken { " broken" } else { "" },
                q.stats()
            )?;
        }
        Ok(())
    }
}

/// A device's debugfs directory; removed when dropped.
pub(crate) struct DeviceDebugfs {
    // Files before their directory.
    _device: Pin<KBox<File<DeviceState>>>,
    _queues: Pin<KBox<File<QueuesState>>>,
    _dir: Dir,
}

impl DeviceDebugfs {
    /// Creates the directory of `dev`. `None` when the module has no
    /// debugfs directory; an allocation failure is an error (the caller
    /// goes on without).
    pub(crate) fn new(
        dev: &Device<Bound>,
        transport: Arc<DeviceTransport>,
        offered: Features,
        negotiated: Features,
        addressing: Addressing,
        queues: KVec<Arc<dyn QueueInfo>>,
    ) -> Result<Option<Self>> {
        let Some(dir) = device_dir(dev.name()) else {
            return Ok(None);
        };
        let device = KBox::pin_init(
            dir.read_only_file(
                c"device",
                Ok::<_, Error>(DeviceState {
                    transport,
                    offered,
                    negotiated,
                    addressing,
                    dev: dev.into(),
                }),
            ),
            GFP_KERNEL,
        )?;
        let queues = KBox::pin_init(
            dir.read_only_file(c"queues", Ok::<_, Error>(QueuesState { queues })),
            GFP_KERNEL,
        )?;
        Ok(Some(Self {
            _device: device,
            _queues: queues,
            _dir: dir,
        }))
    }
}
