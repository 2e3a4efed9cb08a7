// SPDX-License-Identifier: GPL-2.0

//! Emergency write (`VIRTIO_CONSOLE_F_EMERG_WRITE`, virtio 1.4 §5.3.4):
//! oops and panic output written through the configuration field
//! `emerg_wr`, one byte per write, without the virtqueues.
//!
//! It is a kmsg dumper (`rust/kext/kmsg_dump.rs`), as pstore and mtdoops are, not
//! a `struct console`: it runs only on an oops or a panic, so it never
//! competes with hvc for port 0's output in normal operation, and it needs
//! no queue, no interrupt, no lock and no allocation (the queues may be
//! what broke, and a panic runs with the other CPUs stopped). Each dump
//! writes the newest [`EMERG_DUMP_LEN`] bytes of the log. Nothing is read
//! from the device: a config write that fails (the device is gone) ends
//! the dump.

use kernel::{prelude::*, sync::Arc};

use crate::kmsg_dump::{Dumper, Reason, Registration};
use crate::kvirtio::config::DeviceConfig;
use crate::virtio::console::{emerg_words, wire::config::EMERG_WR, EMERG_DUMP_LEN};

/// Writes dumps to one device's `emerg_wr`.
pub(crate) struct Emerg {
    config: Arc<DeviceConfig>,
}

impl Dumper for Emerg {
    fn dump(&self, _reason: Reason, log: &[u8]) {
        for w in emerg_words(log) {
            if self.config.write_u32(EMERG_WR, w).is_err() {
                return;
            }
        }
    }
}

/// Registers the emergency writer of the device whose configuration is
/// `config`; it writes until the registration is dropped.
pub(crate) fn register(config: Arc<DeviceConfig>) -> Result<Registration<Emerg>> {
    Registration::new(Arc::new(Emerg { config }, GFP_KERNEL)?, EMERG_DUMP_LEN)
}
