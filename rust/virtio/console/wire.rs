// SPDX-License-Identifier: GPL-2.0

//! The virtio-console wire format: feature bits, configuration offsets,
//! control events and the control message (`struct
//! virtio_console_control`) with its RESIZE payload.
//!
//! Multi-byte fields are little-endian on a modern interface and in the
//! guest's byte order on a legacy one, so messages are encoded and decoded
//! with the transport's [`ByteOrder`], never cast from memory.
//!
//! Ref: virtio v1.4 §5.3 "Console Device"; C: `include/uapi/linux/virtio_console.h`.

use super::super::{
    features::Feature,
    wire::ByteOrder, //
};

/// Feature bits (§5.3.3).
pub mod feature {
    use super::Feature;

    /// `VIRTIO_CONSOLE_F_SIZE`: `cols` and `rows` are valid.
    pub const SIZE: Feature = Feature::new(0);
    /// `VIRTIO_CONSOLE_F_MULTIPORT`: several ports and the control queues.
    pub const MULTIPORT: Feature = Feature::new(1);
    /// `VIRTIO_CONSOLE_F_EMERG_WRITE`: `emerg_wr` works.
    pub const EMERG_WRITE: Feature = Feature::new(2);
}

/// Offsets in `struct virtio_console_config` (§5.3.4).
pub mod config {
    /// `le16 cols`.
    pub const COLS: usize = 0;
    /// `le16 rows`.
    pub const ROWS: usize = 2;
    /// `le32 max_nr_ports`.
    pub const MAX_NR_PORTS: usize = 4;
    /// `le32 emerg_wr`: a write sends its low byte to the device's output.
    pub const EMERG_WR: usize = 8;
}

/// Control events (§5.3.6.2).
pub mod event {
    /// `VIRTIO_CONSOLE_DEVICE_READY` (driver to device).
    pub const DEVICE_READY: u16 = 0;
    /// `VIRTIO_CONSOLE_DEVICE_ADD` (`PORT_ADD`; device to driver).
    pub const PORT_ADD: u16 = 1;
    /// `VIRTIO_CONSOLE_DEVICE_REMOVE` (`PORT_REMOVE`; device to driver).
    pub const PORT_REMOVE: u16 = 2;
    /// `VIRTIO_CONSOLE_PORT_READY` (driver to device).
    pub const PORT_READY: u16 = 3;
    /// `VIRTIO_CONSOLE_CONSOLE_PORT` (device to driver).
    pub const CONSOLE_PORT: u16 = 4;
    /// `VIRTIO_CONSOLE_RESIZE` (device to driver).
    pub const RESIZE: u16 = 5;
    /// `VIRTIO_CONSOLE_PORT_OPEN` (both ways).
    pub const PORT_OPEN: u16 = 6;
    /// `VIRTIO_CONSOLE_PORT_NAME` (device to driver).
    pub const PORT_NAME: u16 = 7;
}

/// Length of `struct virtio_console_control`.
pub const CONTROL_LEN: usize = 8;
/// Length of `struct virtio_console_resize` (after the control message).
pub const RESIZE_LEN: usize = 4;

/// A control message's header, in CPU byte order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Control {
    /// `id`: the port.
    pub id: u32,
    /// `event` ([`event`]).
    pub event: u16,
    /// `value`.
    pub value: u16,
}

fn get<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Reads a 16-bit field at `at` in `order`.
pub(crate) fn get16(b: &[u8], at: usize, order: ByteOrder) -> Option<u16> {
    Some(order.from_device_u16(get::<2>(b, at)?))
}

fn get32(b: &[u8], at: usize, order: ByteOrder) -> Option<u32> {
    Some(order.from_device_u32(get::<4>(b, at)?))
}

impl Control {
    /// Decodes the message at the start of `b`; `None` if `b` is shorter
    /// than [`CONTROL_LEN`].
    pub fn decode(b: &[u8], order: ByteOrder) -> Option<Self> {
        Some(Self {
            id: get32(b, 0, order)?,
            event: get16(b, 4, order)?,
            value: get16(b, 6, order)?,
        })
    }

    /// Encodes the message.
    pub fn encode(&self, order: ByteOrder) -> [u8; CONTROL_LEN] {
        let id = order.to_device_u32(self.id);
        let ev = order.to_device_u16(self.event);
        let val = order.to_device_u16(self.value);
        [id[0], id[1], id[2], id[3], ev[0], ev[1], val[0], val[1]]
    }
}
