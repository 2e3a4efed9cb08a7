// SPDX-License-Identifier: GPL-2.0

//! The layout-independent virtqueue API.
//!
//! [`Virtqueue`] is what device drivers program against. The split ring
//! ([`SplitQueue`](super::split::SplitQueue)) implements it today; a packed
//! ring can implement the same trait later without changing drivers: the
//! callback "opaque" value is a `u32` (room for a packed wrap counter),
//! notification data is a (offset, wrap) pair, and the queue addresses are
//! the spec's layout-neutral descriptor, driver and device areas.

use super::features::{
    Feature,
    Features, //
};

/// One element of a buffer: `len` bytes at bus address `addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buf {
    /// Bus (DMA) address.
    pub addr: u64,
    /// Length in bytes.
    pub len: u32,
}

impl Buf {
    /// A buffer element.
    pub const fn new(addr: u64, len: u32) -> Self {
        Self { addr, len }
    }
}

/// A buffer the device has used.
#[derive(Debug, PartialEq, Eq)]
pub struct Used<T> {
    /// The token given to [`Virtqueue::add`].
    pub token: T,
    /// Bytes the device reports it wrote, never more than the writable
    /// size of the buffer (see [`LenPolicy`]). On a legacy interface only
    /// an upper bound (a device may report every writable byte, or the
    /// total descriptor length clamped to them); drivers that do not need
    /// it ignore it there.
    pub len: u32,
}

/// Errors of virtqueue operations.
///
/// Variants marked "violation" mean the device broke the protocol: the
/// queue is then marked broken and every later operation except
/// [`Virtqueue::detach_unused`] and [`Virtqueue::reinit`] fails with
/// [`RingError::Broken`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// Not enough free descriptors for the buffer. Retry after reclaiming
    /// used buffers.
    NoSpace,
    /// A buffer needs at least one element.
    EmptyChain,
    /// More elements than the queue size (spec §2.7.5.3.1).
    ChainTooLong,
    /// The elements add up to more than 2^32 bytes (spec §2.7.5.1).
    ChainTooLarge,
    /// Violation: a used element's id is not below the queue size.
    BadId {
        /// The id read from the used ring.
        id: u32,
    },
    /// Violation: a used element's id names a descriptor that is in the
    /// middle of an in-flight chain.
    NotHead {
        /// The id read from the used ring.
        id: u32,
    },
    /// Violation: a used element's id names a descriptor that is not in
    /// flight (free, or already completed).
    NotInFlight {
        /// The id read from the used ring.
        id: u32,
    },
    /// Violation: the used length exceeds the device-writable bytes of the
    /// buffer.
    BadLen {
        /// The id read from the used ring.
        id: u32,
        /// The length read from the used ring.
        len: u32,
        /// Device-writable bytes of that buffer.
        max: u32,
    },
    /// Violation: the used index moved past the buffers in flight.
    IdxJump {
        /// The used index read from the ring.
        used_idx: u16,
        /// The driver's last seen used index.
        last_used: u16,
        /// Buffers in flight.
        in_flight: u16,
    },
    /// The queue was marked broken by an earlier violation or by
    /// [`Virtqueue::mark_broken`].
    Broken,
    /// [`Virtqueue::detach_unused`] started tearing the queue down; call
    /// [`Virtqueue::reinit`] before reusing it.
    Detached,
    /// [`Virtqueue::reinit`] was called with buffers still in flight.
    Busy,
    /// Driver bookkeeping is inconsistent (never expected; the queue is
    /// marked broken rather than risk memory corruption).
    Internal,
}

impl RingError {
    /// Returns `true` for errors caused by the device violating the
    /// protocol.
    pub const fn is_violation(self) -> bool {
        matches!(
            self,
            Self::BadId { .. }
                | Self::NotHead { .. }
                | Self::NotInFlight { .. }
                | Self::BadLen { .. }
                | Self::IdxJump { .. }
        )
    }
}

/// A failed [`Virtqueue::add`]: the error and the token, given back.
#[derive(Debug, PartialEq, Eq)]
pub struct AddError<T> {
    /// What went wrong.
    pub error: RingError,
    /// The token that was not queued.
    pub token: T,
}

/// What to do with a used length larger than the buffer's writable bytes.
///
/// One decision, made by the core from the transport
/// ([`LenPolicy::for_interface`], used by [`QueueOptions::from_features`]):
/// drivers do not choose it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LenPolicy {
    /// Treat it as a violation: fail with [`RingError::BadLen`] and mark
    /// the queue broken. Modern interfaces.
    Reject,
    /// Clamp it to the writable bytes and go on. Legacy interfaces: many
    /// legacy devices report the total descriptor length, or every
    /// writable byte, whatever they wrote (spec §2.7.8.2 "it is generally
    /// a good idea to ignore the len value"; the block, network transmit,
    /// console transmit, balloon and SCSI sections name such devices).
    Clamp,
}

impl LenPolicy {
    /// The policy of a legacy (`true`) or modern interface: legacy
    /// lengths are clamped, never a violation, and only an upper bound of
    /// what was written; modern lengths are checked strictly.
    pub const fn for_interface(legacy: bool) -> Self {
        if legacy {
            Self::Clamp
        } else {
            Self::Reject
        }
    }

    /// Returns `true` if a used length is exact (the device wrote that
    /// many bytes), `false` if it is only an upper bound that a driver
    /// should ignore where it can (legacy interfaces).
    pub const fn len_is_exact(self) -> bool {
        matches!(self, Self::Reject)
    }
}

/// Ring features that change a queue's behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueOptions {
    /// `VIRTIO_F_EVENT_IDX` was negotiated.
    pub event_idx: bool,
    /// `VIRTIO_F_INDIRECT_DESC` was negotiated.
    pub indirect: bool,
    /// Largest indirect table to build (descriptors). Buffers with more
    /// elements use direct descriptors. Capped at the queue size.
    pub max_indirect: u16,
    /// The interface is legacy (native-endian ring, contiguous layout).
    pub legacy: bool,
    /// Used length validation: [`LenPolicy::for_interface`] (what
    /// [`QueueOptions::from_features`] sets; tests may pick either).
    pub len_policy: LenPolicy,
    /// Initial value of the free-running indices. The spec starts them at
    /// 0 after reset, which every driver must use; a non-zero value only
    /// makes sense against a device model set to the same start (tests of
    /// the 16-bit wrap) or when restoring saved queue state.
    pub start_idx: u16,
}

impl QueueOptions {
    /// Default largest indirect table (Linux caps tables at the queue size;
    /// 128 covers a typical `seg_max` plus headers).
    pub const DEFAULT_MAX_INDIRECT: u16 = 128;

    /// Options derived from the negotiated features and the interface
    /// (`legacy`: [`TransportKind::is_legacy`](super::transport::TransportKind::is_legacy)),
    /// which decides the ring's byte order and the used length policy.
    pub const fn from_features(features: Features, legacy: bool) -> Self {
        Self {
            event_idx: features.contains(Feature::EVENT_IDX),
            indirect: features.contains(Feature::INDIRECT_DESC),
            max_indirect: Self::DEFAULT_MAX_INDIRECT,
            legacy,
            len_policy: LenPolicy::for_interface(legacy),
            start_idx: 0,
        }
    }
}

/// The data of a driver notification with `VIRTIO_F_NOTIFICATION_DATA`
/// (spec §2.9): where the next available entry will be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotifyData {
    /// Split ring: the low 15 bits of the available index. Packed ring:
    /// the offset of the next available descriptor.
    pub next_off: u16,
    /// Split ring: bit 15 of the available index. Packed ring: the wrap
    /// counter.
    pub next_wrap: bool,
}

impl NotifyData {
    /// The 32-bit notification value for queue `vq` (or its
    /// `queue_notif_config_data` with `VIRTIO_F_NOTIF_CONFIG_DATA`): `vq` in
    /// bits 0..15, `next_off` in 16..30, `next_wrap` in 31. PCI and MMIO
    /// write it as a `le32`; virtio-ccw passes it in GPR3.
    pub const fn to_u32(self, vq: u16) -> u32 {
        // CAST: lossless widenings; `u32::from` is not `const`.
        (vq as u32) | (((self.next_off & 0x7fff) as u32) << 16) | ((self.next_wrap as u32) << 31)
    }
}

/// Where a queue lives, for [`TransportSetup::setup_queue`](super::transport::TransportSetup::setup_queue).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Number of entries.
    pub size: u16,
    /// Bus address of the descriptor area (descriptor table).
    pub desc: u64,
    /// Bus address of the driver area (available ring).
    pub driver: u64,
    /// Bus address of the device area (used ring).
    pub device: u64,
    /// For a legacy (contiguous) layout: the queue alignment the used ring
    /// was placed with, which legacy MMIO writes to `QueueAlign` and
    /// virtio-ccw revision 0 to `vq_info_block_legacy.align`. The queue's
    /// base is then `desc`. 0 for modern layouts.
    pub legacy_align: u32,
}

/// Returns `true` if a notification is needed when an index moved from
/// `old` to `new` and the other side asked to be notified at `event`
/// (Linux's `vring_need_event()`, spec §2.7.10 / §2.7.7).
///
/// All arithmetic is modulo 2^16, so it is correct across the wrap of the
/// free-running indices: the event fires iff `event` is in the half-open
/// window `[old, new)`.
#[inline(always)]
pub const fn vring_need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

/// A virtqueue, as seen by a device driver.
///
/// Not thread-safe by itself: drivers serialise calls (the kernel wraps a
/// queue in a spinlock). The memory the buffers point to is the driver's
/// business; the queue only records addresses and lengths, and returns
/// each token exactly once (through [`Virtqueue::get_used`] or
/// [`Virtqueue::detach_unused`]).
pub trait Virtqueue {
    /// The per-buffer value handed back on completion.
    type Token;

    /// Number of entries.
    fn size(&self) -> u16;

    /// Number of free descriptors.
    fn num_free(&self) -> u16;

    /// Exposes a buffer of device-readable elements `out` followed by
    /// device-writable elements `inb`, identified by `token`.
    ///
    /// The buffer becomes visible to the device at once (the available
    /// index is published), but the device is only told by a notification
    /// after [`Virtqueue::prepare_kick`].
    fn add(
        &mut self,
        out: &[Buf],
        inb: &[Buf],
        token: Self::Token,
    ) -> Result<(), AddError<Self::Token>>;

    /// Decides whether the device must be notified of buffers added since
    /// the last call (notification suppression). The caller then notifies
    /// through the transport, with [`Virtqueue::notification_data`] if
    /// `VIRTIO_F_NOTIFICATION_DATA` was negotiated.
    fn prepare_kick(&mut self) -> Result<bool, RingError>;

    /// Data for a driver notification about the current available state.
    fn notification_data(&self) -> NotifyData;

    /// Returns `true` if the device has used buffers not yet returned by
    /// [`Virtqueue::get_used`].
    fn more_used(&mut self) -> Result<bool, RingError>;

    /// Returns the next used buffer, if any.
    fn get_used(&mut self) -> Result<Option<Used<Self::Token>>, RingError>;

    /// [`Virtqueue::get_used`], handing its result to `f` and returning
    /// what `f` returns: the same checks and the same result. For a caller
    /// that makes one call per buffer and needs registers afterwards (a C
    /// API storing through pointers): an implementation may run `f` in its
    /// out-of-line part, reached by a tail call, so that the caller keeps
    /// nothing across a call (see `Documentation/rvirtio/core.rst`, "Hot
    /// paths"). A loop over buffers is better served by `get_used()`.
    fn get_used_then<R>(
        &mut self,
        f: impl FnOnce(Result<Option<Used<Self::Token>>, RingError>) -> R,
    ) -> R;

    /// Asks the device not to send used buffer notifications. Only a hint:
    /// spurious notifications still have to be tolerated.
    fn disable_cb(&mut self);

    /// Re-enables used buffer notifications and returns an opaque value
    /// for [`Virtqueue::poll`]. Does not check for pending buffers.
    fn enable_cb_prepare(&mut self) -> Result<u32, RingError>;

    /// Returns `true` if buffers were used after `opaque` was taken (with a
    /// full barrier first, closing the race with a re-enable).
    fn poll(&mut self, opaque: u32) -> Result<bool, RingError>;

    /// Re-enables used buffer notifications. Returns `false` if buffers are
    /// already pending, in which case the caller must process them (a
    /// notification for them may never come).
    fn enable_cb(&mut self) -> Result<bool, RingError> {
        let opaque = self.enable_cb_prepare()?;
        Ok(!self.poll(opaque)?)
    }

    /// Like [`Virtqueue::enable_cb`], but with `VIRTIO_F_EVENT_IDX` asks for
    /// the notification only after about 3/4 of the buffers in flight have
    /// been used (Linux's `virtqueue_enable_cb_delayed()`).
    fn enable_cb_delayed(&mut self) -> Result<bool, RingError>;

    /// Takes back one buffer that is still in flight, or `None` when none
    /// are left. Only call this after the device was reset (spec §3.3.1:
    /// buffers of a live queue must not be reclaimed). Works on broken
    /// queues; the queue needs [`Virtqueue::reinit`] afterwards.
    fn detach_unused(&mut self) -> Option<Self::Token>;

    /// Returns a fully detached queue to its initial state (indices at the
    /// start value, ring memory cleared) for reuse after a device or queue
    /// reset. Fails with [`RingError::Busy`] while buffers are in flight.
    fn reinit(&mut self) -> Result<(), RingError>;

    /// Returns `true` once the queue is broken.
    fn is_broken(&self) -> bool;

    /// Marks the queue broken, e.g. on surprise removal or when the device
    /// sets `DEVICE_NEEDS_RESET`.
    fn mark_broken(&mut self);

    /// Addresses to program into the transport.
    fn config(&self) -> QueueConfig;
}
