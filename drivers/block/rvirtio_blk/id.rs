// SPDX-License-Identifier: GPL-2.0

//! The GET_ID answer (§5.2.6): the disk's serial number, checked before it
//! reaches sysfs.

use kernel::prelude::*;

/// Length of the GET_ID answer (§5.2.6).
pub const ID_BYTES: usize = 20;

/// The serial number in a GET_ID answer: up to the first NUL (none if all
/// 20 bytes are used). A device that sends anything but printable ASCII
/// gets no serial shown (`EIO`), so it cannot inject text into sysfs.
pub fn serial_from_id(id: &[u8]) -> Result<&[u8]> {
    let id = id.get(..ID_BYTES).unwrap_or(id);
    let len = id.iter().position(|&b| b == 0).unwrap_or(id.len());
    let s = id.get(..len).ok_or(EIO)?;
    if s.iter().all(|b| (0x20..0x7f).contains(b)) {
        Ok(s)
    } else {
        Err(EIO)
    }
}
