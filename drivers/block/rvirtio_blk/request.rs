// SPDX-License-Identifier: GPL-2.0

//! Request types (§5.2.6): which virtio-blk request a block operation
//! becomes, as far as the negotiated features allow.

use crate::blk::Op;

/// `VIRTIO_BLK_T_IN`.
pub const T_IN: u32 = 0;
/// `VIRTIO_BLK_T_OUT`.
pub const T_OUT: u32 = 1;
/// `VIRTIO_BLK_T_FLUSH`.
pub const T_FLUSH: u32 = 4;
/// `VIRTIO_BLK_T_GET_ID`.
pub const T_GET_ID: u32 = 8;
/// `VIRTIO_BLK_T_DISCARD`.
pub const T_DISCARD: u32 = 11;
/// `VIRTIO_BLK_T_WRITE_ZEROES`.
pub const T_WRITE_ZEROES: u32 = 13;

/// What the negotiated features let the driver send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    /// `VIRTIO_BLK_F_FLUSH`.
    pub flush: bool,
    /// `VIRTIO_BLK_F_DISCARD`.
    pub discard: bool,
    /// `VIRTIO_BLK_F_WRITE_ZEROES`.
    pub write_zeroes: bool,
}

/// The virtio-blk request type and header sector of a block operation, or
/// `None` for one the device cannot do. Flush, discard, write zeroes and
/// GET_ID (the driver-private read) carry sector 0 in the header.
pub fn request_type(op: Op, pos: u64, caps: Caps) -> Option<(u32, u64)> {
    match op {
        Op::Read => Some((T_IN, pos)),
        Op::Write => Some((T_OUT, pos)),
        Op::Flush if caps.flush => Some((T_FLUSH, 0)),
        Op::Discard if caps.discard => Some((T_DISCARD, 0)),
        Op::WriteZeroes if caps.write_zeroes => Some((T_WRITE_ZEROES, 0)),
        Op::DrvIn => Some((T_GET_ID, 0)),
        _ => None,
    }
}
