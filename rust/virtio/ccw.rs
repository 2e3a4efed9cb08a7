// SPDX-License-Identifier: GPL-2.0

//! virtio over s390 channel I/O (virtio-ccw), without a kernel: the
//! channel commands, the revision negotiation, every communication block a
//! command carries (with its byte order: big-endian, except the feature
//! bits, which are little-endian), the indicator bit numbering of both
//! notification modes, the notification value, and the decoding of a
//! channel program's completion into a clear error. Host tests are in
//! `tests/ccw.rs`.
//!
//! Ref: virtio v1.4 §4.3; C version: `drivers/s390/virtio/virtio_ccw.c`.

use super::queue::QueueConfig;

/// The control unit type of a virtio-ccw proxy device; the control unit
/// model is the virtio device id (§4.3.1).
pub const CU_TYPE: u16 = 0x3832;

/// virtio-ccw channel commands (§4.3.2).
pub mod cmd {
    /// `CCW_CMD_SET_VQ`.
    pub const SET_VQ: u8 = 0x13;
    /// `CCW_CMD_VDEV_RESET`.
    pub const VDEV_RESET: u8 = 0x33;
    /// `CCW_CMD_SET_IND`.
    pub const SET_IND: u8 = 0x43;
    /// `CCW_CMD_SET_CONF_IND`.
    pub const SET_CONF_IND: u8 = 0x53;
    /// `CCW_CMD_SET_IND_ADAPTER`.
    pub const SET_IND_ADAPTER: u8 = 0x73;
    /// `CCW_CMD_READ_FEAT`.
    pub const READ_FEAT: u8 = 0x12;
    /// `CCW_CMD_WRITE_FEAT`.
    pub const WRITE_FEAT: u8 = 0x11;
    /// `CCW_CMD_READ_CONF`.
    pub const READ_CONF: u8 = 0x22;
    /// `CCW_CMD_WRITE_CONF`.
    pub const WRITE_CONF: u8 = 0x21;
    /// `CCW_CMD_WRITE_STATUS`.
    pub const WRITE_STATUS: u8 = 0x31;
    /// `CCW_CMD_READ_VQ_CONF`.
    pub const READ_VQ_CONF: u8 = 0x32;
    /// `CCW_CMD_SET_VIRTIO_REV`.
    pub const SET_VIRTIO_REV: u8 = 0x83;
    /// `CCW_CMD_READ_STATUS` (revision 2).
    pub const READ_STATUS: u8 = 0x72;
}

/// The highest transport revision the driver speaks.
pub const MAX_REVISION: u16 = 2;

/// The next step of the revision negotiation (§4.3.2.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevisionStep {
    /// Issue SET_VIRTIO_REV with this revision.
    Try(u16),
    /// Every revision above 0 was rejected: operate the device as a legacy
    /// one (revision 0), which only a transitional driver may do.
    Legacy,
    /// No revision is left: the device cannot be driven.
    Refuse,
}

/// Where the negotiation starts: the highest revision first.
pub const fn first_revision() -> RevisionStep {
    RevisionStep::Try(MAX_REVISION)
}

/// The step after the device rejected `rev` with a command reject. A
/// driver that allows legacy devices (`legacy_ok`) falls back to revision
/// 0 behaviour; otherwise it stops (a non-transitional driver "MUST stop
/// trying to operate this device").
pub const fn after_reject(rev: u16, legacy_ok: bool) -> RevisionStep {
    match rev {
        0 => RevisionStep::Refuse,
        1 if legacy_ok => RevisionStep::Legacy,
        1 => RevisionStep::Refuse,
        r if r > MAX_REVISION => RevisionStep::Try(MAX_REVISION),
        r => RevisionStep::Try(r.saturating_sub(1)),
    }
}

/// What a transport revision allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revision(u16);

impl Revision {
    /// Revision `r` (0 is the legacy interface).
    pub const fn new(r: u16) -> Option<Self> {
        if r > MAX_REVISION {
            None
        } else {
            Some(Self(r))
        }
    }

    /// The revision number.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Whether this is the legacy interface (revision 0).
    pub const fn is_legacy(self) -> bool {
        self.0 == 0
    }

    /// Whether READ_STATUS exists (revision 2).
    pub const fn has_read_status(self) -> bool {
        self.0 >= 2
    }

    /// The number of feature words the driver may read or write: revision
    /// 0 has only word 0.
    pub const fn feature_words(self) -> u8 {
        if self.0 == 0 {
            1
        } else {
            2
        }
    }
}

fn get_be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = at
        .checked_add(bytes.len())
        .and_then(|end| out.get_mut(at..end))
    {
        dst.copy_from_slice(bytes);
    }
}

/// `struct virtio_rev_info` for SET_VIRTIO_REV: revision and an empty data
/// part (no revision up to 2 has data).
pub fn rev_info(rev: u16) -> [u8; 4] {
    let r = rev.to_be_bytes();
    [r[0], r[1], 0, 0]
}

/// Length of `struct vq_config_block`.
pub const VQ_CONFIG_LEN: usize = 4;

/// `struct vq_config_block` for READ_VQ_CONF: the queue index; the device
/// fills in `max_queue_size`.
pub fn vq_config_block(index: u16) -> [u8; VQ_CONFIG_LEN] {
    let i = index.to_be_bytes();
    [i[0], i[1], 0, 0]
}

/// The queue's maximum size from a completed READ_VQ_CONF block; `None`
/// when the block is short or names another queue (a device bug the
/// driver refuses).
pub fn vq_config_max(block: &[u8], index: u16) -> Option<u16> {
    if get_be16(block, 0)? != index {
        return None;
    }
    get_be16(block, 2)
}

/// Length of `struct vq_info_block` (revision 1 and later).
pub const VQ_INFO_LEN: usize = 32;
/// Length of `struct vq_info_block_legacy` (revision 0).
pub const VQ_INFO_LEGACY_LEN: usize = 16;

/// `struct vq_info_block` for SET_VQ: the three area addresses, the index
/// and the size. [`QueueConfig::default`]-like all-zero addresses and size
/// 0 release the queue.
pub fn vq_info_block(index: u16, q: &QueueConfig) -> [u8; VQ_INFO_LEN] {
    let mut b = [0u8; VQ_INFO_LEN];
    put(&mut b, 0, &q.desc.to_be_bytes());
    // 8..12: res0.
    put(&mut b, 12, &index.to_be_bytes());
    put(&mut b, 14, &q.size.to_be_bytes());
    put(&mut b, 16, &q.driver.to_be_bytes());
    put(&mut b, 24, &q.device.to_be_bytes());
    b
}

/// `struct vq_info_block_legacy` for SET_VQ on revision 0: one contiguous
/// legacy ring at `q.desc` with `q.legacy_align`.
pub fn vq_info_block_legacy(index: u16, q: &QueueConfig) -> [u8; VQ_INFO_LEGACY_LEN] {
    let mut b = [0u8; VQ_INFO_LEGACY_LEN];
    put(&mut b, 0, &q.desc.to_be_bytes());
    put(&mut b, 8, &q.legacy_align.to_be_bytes());
    put(&mut b, 12, &index.to_be_bytes());
    put(&mut b, 14, &q.size.to_be_bytes());
    b
}

/// Length of `struct virtio_feature_desc` (no padding).
pub const FEATURE_DESC_LEN: usize = 5;

/// `struct virtio_feature_desc`: 32 feature bits, little-endian, and the
/// word index.
pub fn feature_desc(index: u8, bits: u32) -> [u8; FEATURE_DESC_LEN] {
    let f = bits.to_le_bytes();
    [f[0], f[1], f[2], f[3], index]
}

/// The feature bits of a completed READ_FEAT block, if it is the word
/// asked for.
pub fn feature_desc_bits(block: &[u8], index: u8) -> Option<u32> {
    if *block.get(4)? != index {
        return None;
    }
    Some(u32::from_le_bytes(block.get(..4)?.try_into().ok()?))
}

/// Length of `struct virtio_thinint_area` (packed).
pub const THININT_LEN: usize = 25;

/// `struct virtio_thinint_area` for SET_IND_ADAPTER: the summary indicator's
/// address, the indicator area's address, the first bit of this device's
/// queues in it, and the interruption subclass.
pub fn thinint_area(summary: u64, indicator: u64, bit_nr: u64, isc: u8) -> [u8; THININT_LEN] {
    let mut b = [0u8; THININT_LEN];
    put(&mut b, 0, &summary.to_be_bytes());
    put(&mut b, 8, &indicator.to_be_bytes());
    put(&mut b, 16, &bit_nr.to_be_bytes());
    put(&mut b, 24, &[isc]);
    b
}

/// The most queues classic indicators can signal: one bit each of a
/// 64-bit indicator word.
pub const CLASSIC_MAX_QUEUES: u16 = 64;

/// The bit of queue `q` in a classic indicator word (bit `q`, counted from
/// the least significant, as the kernel's bitops number an `unsigned
/// long`); `None` past [`CLASSIC_MAX_QUEUES`].
pub fn classic_bit(q: u16) -> Option<u64> {
    if q >= CLASSIC_MAX_QUEUES {
        return None;
    }
    1u64.checked_shl(u32::from(q))
}

/// The byte and mask of bit `bit` in an adapter indicator area: bits are
/// numbered from the left, the most significant bit of the first byte is
/// bit 0 (§4.3.2.6.2).
pub fn adapter_bit(bit: u64) -> Option<(usize, u8)> {
    let byte = usize::try_from(bit / 8).ok()?;
    let shift = 7u32.checked_sub(u32::try_from(bit % 8).ok()?)?;
    Some((byte, 1u8.checked_shl(shift)?))
}

/// The configuration-change bit in the configuration indicator (bit 0).
pub const CONFIG_CHANGE_BIT: u64 = 1;

/// The notification value (GPR 3 of diagnose 0x500, subcode 3) is the
/// queue index, or with NOTIFICATION_DATA
/// [`NotifyData::to_u32`](super::queue::NotifyData::to_u32): the same 32-bit
/// value PCI and MMIO write, in a register, so it has no byte order.
pub const NOTIFY_SUBCODE: u64 = 3;

/// The length to read with READ_CONF to see `len` bytes at `offset`: the
/// command reads from the start of the configuration space, so everything
/// before `offset` comes along. `None` when it overflows or exceeds
/// `max` (the device's configuration size the driver allows).
pub fn conf_read_len(offset: usize, len: usize, max: usize) -> Option<usize> {
    let end = offset.checked_add(len)?;
    (end <= max).then_some(end)
}

/// The device status bits of a channel program's completion (`scsw.dstat`).
pub mod dstat {
    /// Attention.
    pub const ATTENTION: u8 = 0x80;
    /// Status modifier.
    pub const STAT_MOD: u8 = 0x40;
    /// Control unit end.
    pub const CU_END: u8 = 0x20;
    /// Busy.
    pub const BUSY: u8 = 0x10;
    /// Channel end.
    pub const CHN_END: u8 = 0x08;
    /// Device end.
    pub const DEV_END: u8 = 0x04;
    /// Unit check.
    pub const UNIT_CHECK: u8 = 0x02;
    /// Unit exception.
    pub const UNIT_EXCEP: u8 = 0x01;
}

/// Sense byte 0: command reject.
pub const SNS0_CMD_REJECT: u8 = 0x80;

/// Why a channel program failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CcwError {
    /// Unit check with command reject: the device does not support the
    /// command (or this revision). The revision negotiation and optional
    /// commands (READ_STATUS, SET_IND_ADAPTER) turn this into a fallback.
    CommandReject,
    /// Unit check without command reject (sense byte 0 given).
    UnitCheck(u8),
    /// The device was busy.
    Busy,
    /// Another device status than channel end and device end.
    DeviceStatus(u8),
    /// A channel status (program, protection, data or control check).
    ChannelStatus(u8),
    /// No answer within the timeout.
    Timeout,
}

/// Decodes the completion of a channel program from its device status,
/// channel status and sense byte 0, as the C driver's interrupt handler:
/// success is exactly channel end and device end, with no channel status.
pub fn completion(dstat_bits: u8, cstat: u8, sense0: u8) -> Result<(), CcwError> {
    if dstat_bits & dstat::UNIT_CHECK != 0 {
        return Err(if sense0 & SNS0_CMD_REJECT != 0 {
            CcwError::CommandReject
        } else {
            CcwError::UnitCheck(sense0)
        });
    }
    if cstat != 0 {
        return Err(CcwError::ChannelStatus(cstat));
    }
    if dstat_bits & dstat::BUSY != 0 {
        return Err(CcwError::Busy);
    }
    if dstat_bits & !(dstat::CHN_END | dstat::DEV_END) != 0 {
        return Err(CcwError::DeviceStatus(dstat_bits));
    }
    Ok(())
}
