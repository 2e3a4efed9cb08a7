// SPDX-License-Identifier: GPL-2.0

//! Disk names: the C driver's (`vda`, `vdb`, ..., `vdz`, `vdaa`, ...) from
//! the lowest free index of an IDA, so a disk that goes (unbind, unplug)
//! gives its name back for the next one, as with `virtio_blk`. The prefix
//! is the module's `prefix` parameter (`vd` by default).

use crate::{
    kext::ida::{
        Ida,
        IdaId, //
    },
    virtio::blk::{
        check_prefix,
        disk_name,
        DISK_NAME_LEN,
        MAX_DISK_INDEX, //
    },
};
use kernel::prelude::*;

/// A disk name, and the index it holds until dropped.
pub struct DiskName {
    index: IdaId<'static>,
    buf: [u8; DISK_NAME_LEN],
}

impl DiskName {
    /// The name with the lowest free index of `ida` and `prefix`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a prefix that is not 1 to 16 of `[a-z0-9_]`, `ENOSPC`
    /// when every index is in use, `ENOMEM`.
    pub fn alloc(ida: &'static Ida, prefix: &CStr) -> Result<Self> {
        let prefix = prefix.to_bytes();
        if check_prefix(prefix).is_err() {
            pr_err!("invalid disk name prefix: use 1 to 16 of a-z, 0-9 and _\n");
            return Err(EINVAL);
        }
        let index = ida.alloc(MAX_DISK_INDEX)?;
        let mut buf = [0u8; DISK_NAME_LEN];
        disk_name(prefix, index.get(), &mut buf).map_err(|_| EINVAL)?;
        Ok(Self { index, buf })
    }

    /// The index.
    pub fn index(&self) -> u32 {
        self.index.get()
    }

    /// The name.
    pub fn as_cstr(&self) -> &CStr {
        // `disk_name` wrote a NUL after the name, within the buffer.
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"")
    }
}
