// SPDX-License-Identifier: GPL-2.0

//! The devices of the `device` module parameter: virtio-mmio devices for
//! guests without ACPI or a device tree, in the syntax of the kernel's
//! `virtio_mmio.device=` (`<size>@<base>:<irq>[:<id>]`, parsed by
//! [`crate::virtio::mmio::cmdline`]).
//!
//! One device type per module: every rvirtio module has the parameter,
//! and a guest may give all of them the same list (`rvirtio_rng.device=L
//! rvirtio_blk.device=L`). Each module creates platform devices only for
//! the entries whose `DeviceID` is its own type: it maps the window,
//! checks `MagicValue`, `Version` and `DeviceID`, and unmaps it. A device
//! it creates is named after the module's platform driver
//! (`rvirtio_blk.0`, ...), so that driver, and no other, binds it by
//! name. The devices are unregistered at module exit, before the driver.
//!
//! A malformed entry fails the module load with `EINVAL`, as a malformed
//! `virtio_mmio.device=` fails the C module's. An entry whose window has
//! no virtio-mmio header is reported and skipped.

use crate::{
    kext::mmio::{device_param, PlatformDeviceReg},
    kvirtio::mmio::transport::peek_header,
    virtio::{mmio::cmdline::parse_devices, spec::DeviceId},
};
use kernel::prelude::*;

/// The platform devices a module created from its `device` parameter,
/// unregistered when dropped.
pub struct CmdlineDevices {
    _devices: KVec<PlatformDeviceReg>,
}

impl CmdlineDevices {
    /// Creates a platform device `name.N` for each entry of the module's
    /// `device` parameter whose device is of type `want`.
    pub fn register(name: &'static CStr, want: DeviceId) -> Result<Self> {
        let value = device_param();
        let mut devices = KVec::new();
        // The C parameter's id: the next device's platform id.
        let mut next_id: u32 = 0;
        for (text, parsed) in parse_devices(value) {
            let text = core::str::from_utf8(text).unwrap_or("(not UTF-8)");
            let d = match parsed {
                Ok(d) => d,
                Err(e) => {
                    pr_err!("device={}: {}\n", text, e);
                    return Err(EINVAL);
                }
            };
            match peek_header(d.base, d.size) {
                Ok(h) if h.device_id == want && want != DeviceId::INVALID => {}
                // Another module's device, or a placeholder.
                Ok(_) => continue,
                Err(e) => {
                    pr_err!("device={}: {}; skipped\n", text, e);
                    continue;
                }
            }
            let id = d.id.unwrap_or(next_id);
            next_id = id.saturating_add(1);
            // The C id is an `int`.
            let pid = i32::try_from(id).map_err(|_| EINVAL)?;
            let reg = PlatformDeviceReg::register(name, pid, d.base, d.size, d.irq)?;
            pr_info!(
                "registered {}.{} at {:#x}-{:#x}, IRQ {}\n",
                name,
                id,
                d.base,
                d.base.saturating_add(d.size).saturating_sub(1),
                d.irq
            );
            devices.push(reg, GFP_KERNEL)?;
        }
        Ok(Self { _devices: devices })
    }
}
