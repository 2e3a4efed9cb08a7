// SPDX-License-Identifier: GPL-2.0

//! The transport abstraction: how the driver reaches a device's status,
//! features, configuration space, queues and notifications.
//!
//! Two traits cover virtio over PCI (modern and legacy), MMIO (version 2
//! and legacy version 1) and channel I/O (virtio-ccw, revisions 0..2):
//! [`Transport`], the run-time half (`&self`, `Sync`: status, reset,
//! configuration, notify, interrupt acknowledge), and [`TransportSetup`],
//! the set-up half used until `DRIVER_OK` (`&mut self`: features and
//! queues). Each bus implements both once, with its own mechanism:
//!
//! | method | PCI modern (common cfg, §4.1.4.3) | PCI legacy (I/O BAR 0, §4.1.4.8) | MMIO v2 (§4.2.2) / v1 (§4.2.4) | virtio-ccw (§4.3) |
//! |---|---|---|---|---|
//! | [`read_status`](Transport::read_status) / [`write_status`](Transport::write_status) | `device_status` | `DeviceStatus` (18) | `Status` (0x070) | `CCW_CMD_READ_STATUS` (rev ≥ 2; else a driver shadow) / `CCW_CMD_WRITE_STATUS` |
//! | [`reset`](Transport::reset) | write 0 to `device_status`, poll until it reads 0 | write 0 to `DeviceStatus` | write 0 to `Status` | `CCW_CMD_VDEV_RESET` (complete when the CCW ends) |
//! | [`read_device_features`](TransportSetup::read_device_features) | `device_feature_select` + `device_feature` | `DeviceFeatures` (0), word 0 only | `DeviceFeaturesSel` (0x014) + `DeviceFeatures` (0x010) (v1: `HostFeatures*`) | `CCW_CMD_READ_FEAT` with `virtio_feature_desc.index` |
//! | [`write_driver_features`](TransportSetup::write_driver_features) | `driver_feature_select` + `driver_feature` | `GuestFeatures` (4), word 0 only | `DriverFeaturesSel` (0x024) + `DriverFeatures` (0x020) (v1: `GuestFeatures*`) | `CCW_CMD_WRITE_FEAT` |
//! | [`read_config_u8`](Transport::read_config_u8) etc. | device cfg capability (cfg_type 4), natural-width aligned accesses | I/O BAR offset 20, or 24 with MSI-X enabled; guest endian | `Config` (0x100+) | `CCW_CMD_READ_CONF` / `CCW_CMD_WRITE_CONF` of the whole space into a driver buffer |
//! | [`config_generation`](Transport::config_generation) | `config_generation` | none (see [`TransportKind::has_config_generation`]) | `ConfigGeneration` (0x0fc); v1: none | none in the protocol; the transport keeps its own count (bumped when a `READ_CONF` returns new contents) |
//! | [`max_queue_size`](TransportSetup::max_queue_size) | `queue_select` + `queue_size` (0: no queue) | `QueueSelect` + `QueueSize` (fixed size) | `QueueSel` + `QueueSizeMax` (0x034) | `CCW_CMD_READ_VQ_CONF` (`max_queue_size`) |
//! | [`setup_queue`](TransportSetup::setup_queue) | `queue_size`, `queue_desc`, `queue_driver`, `queue_device` | `QueueAddress` = base >> 12 (align 4096) | v2: `QueueSize`, `QueueDesc*`, `QueueDriver*`, `QueueDevice*`; v1: `QueueSize`, `QueueAlign`, `QueuePFN` = base / `GuestPageSize` (written once before any queue) | `CCW_CMD_SET_VQ` with `vq_info_block` (rev ≥ 1) or `vq_info_block_legacy` {queue, align, index, size} |
//! | [`enable_queue`](TransportSetup::enable_queue) | `queue_enable` = 1 | implied by `QueueAddress` | v2: `QueueReady` = 1; v1: implied by `QueuePFN` | implied by `SET_VQ` |
//! | [`release_queue`](TransportSetup::release_queue) | nothing (device reset); `queue_reset` with `RING_RESET` | `QueueAddress` = 0 | v2: `QueueReady` = 0, read back 0; v1: `QueuePFN` = 0 | nothing (device reset) |
//! | [`notify`](Transport::notify) | write the queue index (or `queue_notif_config_data`) as `le16`, or the 32-bit notification data, at `cap.offset + queue_notify_off * notify_off_multiplier` | `QueueNotify` (16) | `QueueNotify` (0x050), index or notification data | diagnose 0x500 subcode 3: GPR2 subchannel, GPR3 index or notification data, GPR4 host cookie |
//! | [`ack_interrupt`](Transport::ack_interrupt) | INTx: read `ISR status` (read clears); with MSI-X the vector identifies the source and the ISR is not read | read `ISR` (19) | read `InterruptStatus` (0x060), write the bits to `InterruptACK` (0x064) | classic: the queue indicators (`SET_IND`) and config indicator (`SET_CONF_IND`); adapter: clear the summary indicator (`SET_IND_ADAPTER`) before scanning |
//!
//! Errors of the underlying bus (a CCW channel program failing, a
//! surprise-removed PCI device reading all-ones, an out-of-range config
//! offset) are reported as [`TransportError`].
//!
//! Ref: virtio v1.4 §4.1 "Virtio Over PCI Bus", §4.2 "Virtio Over MMIO",
//! §4.3 "Virtio Over Channel I/O", §4.4 "Creating New Transports".

use super::{
    features::{
        Feature,
        Features, //
    },
    queue::{
        LenPolicy,
        NotifyData,
        QueueConfig, //
    },
    spec::{
        DeviceId,
        Status,
        ISR_CONFIG,
        ISR_QUEUE, //
    },
    wire::ByteOrder,
};

/// Which transport and interface version a [`Transport`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// Virtio over PCI, virtio 1.x capabilities.
    PciModern,
    /// Virtio over PCI, legacy I/O BAR 0 header.
    PciLegacy,
    /// Virtio over MMIO, `Version` 2.
    MmioModern,
    /// Virtio over MMIO, `Version` 1 (legacy).
    MmioLegacy,
    /// Virtio over channel I/O, revision 1 or later.
    CcwModern {
        /// The revision set with `CCW_CMD_SET_VIRTIO_REV`.
        revision: u8,
    },
    /// Virtio over channel I/O, revision 0 (legacy).
    CcwLegacy,
}

impl TransportKind {
    /// Returns `true` for legacy interfaces: 32 feature bits, no
    /// `FEATURES_OK`, native-endian contiguous rings.
    pub const fn is_legacy(self) -> bool {
        matches!(self, Self::PciLegacy | Self::MmioLegacy | Self::CcwLegacy)
    }

    /// Byte order of everything the interface shares with the device
    /// besides the transport's own registers: the rings, the device
    /// configuration space and device headers. Little-endian for modern
    /// interfaces, guest-native for legacy ones (§2.5.3, §2.7.3).
    pub const fn byte_order(self) -> ByteOrder {
        ByteOrder::for_interface(self.is_legacy())
    }

    /// What the queues do with a used length above the buffer's writable
    /// bytes: clamp on legacy interfaces, reject on modern ones.
    pub const fn len_policy(self) -> LenPolicy {
        LenPolicy::for_interface(self.is_legacy())
    }

    /// Number of 32-bit feature words the interface carries: 1 for legacy,
    /// [`Features::WORDS`] otherwise.
    pub const fn feature_words(self) -> usize {
        if self.is_legacy() {
            1
        } else {
            Features::WORDS
        }
    }

    /// Returns `true` if the transport has a configuration generation
    /// counter to make multi-field reads consistent. Without one, the
    /// driver reads until two reads agree (spec §2.5.4).
    pub const fn has_config_generation(self) -> bool {
        matches!(
            self,
            Self::PciModern | Self::MmioModern | Self::CcwModern { .. }
        )
    }

    /// Returns `true` if the driver may pick a queue size smaller than the
    /// maximum (not on legacy PCI, where the device fixes it).
    pub const fn can_resize_queue(self) -> bool {
        !matches!(self, Self::PciLegacy)
    }

    /// Device-independent features the transport itself can support (spec
    /// §4.2.5 and §4.3.4 reserve `ADMIN_VQ`, and for virtio-ccw
    /// `RING_RESET`, for future use; `SR_IOV` is PCI only). A concrete
    /// transport may narrow this in [`TransportSetup::supported_features`].
    pub const fn transport_features(self) -> Features {
        let base = Features::DEVICE_INDEPENDENT;
        match self {
            Self::PciModern | Self::PciLegacy => base,
            Self::MmioModern | Self::MmioLegacy => {
                base.without(Feature::ADMIN_VQ).without(Feature::SR_IOV)
            }
            Self::CcwModern { .. } | Self::CcwLegacy => base
                .without(Feature::ADMIN_VQ)
                .without(Feature::RING_RESET)
                .without(Feature::SR_IOV),
        }
    }
}

/// A transport-level failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// The bus access failed (channel program error, device gone, ...).
    Io,
    /// A configuration access was outside the device's configuration
    /// space or misaligned.
    OutOfRange,
    /// The queue does not exist (maximum size 0) or the index is out of
    /// range.
    NoQueue,
    /// The requested queue size or address is not acceptable to the
    /// transport (e.g. a legacy PFN above 2^32 pages, a size above the
    /// maximum).
    InvalidQueue,
    /// The operation is not available on this transport or revision.
    NotSupported,
    /// The device did not complete an operation in time.
    Timeout,
    /// Any other error, as a negative errno for the kernel.
    Errno(i32),
}

/// The interrupt causes read by [`Transport::ack_interrupt`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InterruptStatus(u8);

impl InterruptStatus {
    /// Builds a status from the ISR / `InterruptStatus` bits.
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// A used buffer notification may be pending on some queue.
    pub const fn queue(self) -> bool {
        self.0 & ISR_QUEUE != 0
    }

    /// The device configuration may have changed (or the device set
    /// `DEVICE_NEEDS_RESET`).
    pub const fn config(self) -> bool {
        self.0 & ISR_CONFIG != 0
    }
}

/// The run-time half of a transport: what a live device needs, from any
/// context and any thread.
///
/// Every method takes `&self` and the trait requires `Sync`: a live device
/// is shared by its queues (notify), its interrupt handlers (acknowledge)
/// and its driver (configuration, status, reset). None of these accesses
/// uses a selector register, so none can interfere with another. The
/// spec logic built on top (a consistent configuration read, a reset with
/// a bounded wait, setting `FAILED`) lives once, in
/// [`read_consistent`](super::config::read_consistent),
/// [`reset_device`](super::init::reset_device) and
/// [`set_failed`](super::init::set_failed).
///
/// Implementations must not panic on any value read from the device.
pub trait Transport: Sync {
    /// The transport and interface version.
    fn kind(&self) -> TransportKind;

    /// The device type.
    fn device_id(&self) -> DeviceId;

    /// Reads the device status.
    fn read_status(&self) -> Result<Status, TransportError>;

    /// Writes the device status. The caller only ever adds bits to what
    /// it wrote before; 0 is written only through [`Transport::reset`].
    fn write_status(&self, status: Status) -> Result<(), TransportError>;

    /// Starts a device reset (writes status 0, or `CCW_CMD_VDEV_RESET`).
    /// [`reset_device`](super::init::reset_device) then polls
    /// [`Transport::read_status`] until it reads 0, a bounded number of
    /// times, calling [`Transport::reset_poll_delay`] in between.
    fn reset(&self) -> Result<(), TransportError> {
        self.write_status(Status::RESET)
    }

    /// Waits a little between two status polls after a reset (Linux
    /// sleeps 1 ms in `vp_modern_set_status()`). The default does not
    /// wait.
    fn reset_poll_delay(&self) {}

    /// Reads the configuration generation counter. Only meaningful if
    /// [`TransportKind::has_config_generation`]; may return 0 otherwise.
    fn config_generation(&self) -> Result<u32, TransportError>;

    /// Reads a `u8` of device configuration at byte `offset`.
    fn read_config_u8(&self, offset: usize) -> Result<u8, TransportError>;

    /// Reads a `u16` at `offset`, converted from the interface's byte
    /// order (little-endian for modern interfaces, guest-native for
    /// legacy ones).
    fn read_config_u16(&self, offset: usize) -> Result<u16, TransportError>;

    /// Reads a `u32` at `offset`, converted as for `read_config_u16`.
    fn read_config_u32(&self, offset: usize) -> Result<u32, TransportError>;

    /// Reads a `u64` at `offset`, converted as for `read_config_u16`. PCI
    /// reads two 32-bit halves; the read is not atomic (spec §2.5.1), so
    /// use it within [`read_consistent`](super::config::read_consistent).
    fn read_config_u64(&self, offset: usize) -> Result<u64, TransportError>;

    /// Writes a `u8` of device configuration at byte `offset`.
    fn write_config_u8(&self, offset: usize, value: u8) -> Result<(), TransportError>;

    /// Writes a `u16` at `offset`, converted to the interface's byte order.
    fn write_config_u16(&self, offset: usize, value: u16) -> Result<(), TransportError>;

    /// Writes a `u32` at `offset`, converted to the interface's byte order.
    fn write_config_u32(&self, offset: usize, value: u32) -> Result<(), TransportError>;

    /// Writes a `u64` at `offset`, converted to the interface's byte order.
    fn write_config_u64(&self, offset: usize, value: u64) -> Result<(), TransportError>;

    /// Sends an available buffer notification for queue `index`, with the
    /// notification data if `VIRTIO_F_NOTIFICATION_DATA` was negotiated.
    fn notify(&self, index: u16, data: Option<NotifyData>) -> Result<(), TransportError>;

    /// Reads and acknowledges the interrupt causes for an INTx / MMIO /
    /// ccw-indicator interrupt. Not for MSI-X vectors, which identify
    /// their source themselves.
    fn ack_interrupt(&self) -> Result<InterruptStatus, TransportError>;
}

/// A shared reference to a transport is a transport: buses whose set-up
/// half is implemented on `&Bus` (its state lives behind `&self`, so the
/// run-time half can be shared while the device is being set up) get the
/// run-time half through it.
impl<T: Transport + ?Sized> Transport for &T {
    fn kind(&self) -> TransportKind {
        (**self).kind()
    }
    fn device_id(&self) -> DeviceId {
        (**self).device_id()
    }
    fn read_status(&self) -> Result<Status, TransportError> {
        (**self).read_status()
    }
    fn write_status(&self, status: Status) -> Result<(), TransportError> {
        (**self).write_status(status)
    }
    fn reset(&self) -> Result<(), TransportError> {
        (**self).reset()
    }
    fn reset_poll_delay(&self) {
        (**self).reset_poll_delay()
    }
    fn config_generation(&self) -> Result<u32, TransportError> {
        (**self).config_generation()
    }
    fn read_config_u8(&self, offset: usize) -> Result<u8, TransportError> {
        (**self).read_config_u8(offset)
    }
    fn read_config_u16(&self, offset: usize) -> Result<u16, TransportError> {
        (**self).read_config_u16(offset)
    }
    fn read_config_u32(&self, offset: usize) -> Result<u32, TransportError> {
        (**self).read_config_u32(offset)
    }
    fn read_config_u64(&self, offset: usize) -> Result<u64, TransportError> {
        (**self).read_config_u64(offset)
    }
    fn write_config_u8(&self, offset: usize, value: u8) -> Result<(), TransportError> {
        (**self).write_config_u8(offset, value)
    }
    fn write_config_u16(&self, offset: usize, value: u16) -> Result<(), TransportError> {
        (**self).write_config_u16(offset, value)
    }
    fn write_config_u32(&self, offset: usize, value: u32) -> Result<(), TransportError> {
        (**self).write_config_u32(offset, value)
    }
    fn write_config_u64(&self, offset: usize, value: u64) -> Result<(), TransportError> {
        (**self).write_config_u64(offset, value)
    }
    fn notify(&self, index: u16, data: Option<NotifyData>) -> Result<(), TransportError> {
        (**self).notify(index, data)
    }
    fn ack_interrupt(&self) -> Result<InterruptStatus, TransportError> {
        (**self).ack_interrupt()
    }
}

/// The set-up half of a transport: feature negotiation and queue
/// programming, from the reset to `DRIVER_OK`.
///
/// Methods take `&mut self`: they go through selector registers (feature
/// word, queue index) that make an access sequence stateful, so the
/// borrow checker keeps them serial. The core reaches them only through
/// [`DeviceInit`](super::init::DeviceInit), which enforces the spec's
/// order; after `DRIVER_OK` only the run-time half [`Transport`] is used.
pub trait TransportSetup: Transport {
    /// Device-independent features this transport implementation supports;
    /// negotiation never accepts others. Defaults to
    /// [`TransportKind::transport_features`]. An implementation narrows
    /// it, e.g. leaves out `NOTIFICATION_DATA` if its notify path cannot
    /// carry data, or `RING_RESET` on legacy PCI.
    fn supported_features(&self) -> Features {
        self.kind().transport_features()
    }

    /// Reads 32-bit word `word` of the device features (bits
    /// `32*word..32*word+31`). Returns 0 for words the device does not
    /// implement (legacy interfaces: every word but 0).
    fn read_device_features(&mut self, word: u32) -> Result<u32, TransportError>;

    /// Writes 32-bit word `word` of the driver (guest) features.
    fn write_driver_features(&mut self, word: u32, value: u32) -> Result<(), TransportError>;

    /// Number of queues the device offers, where the interface says
    /// (modern PCI `num_queues`); `None` where it does not (probe each
    /// queue's maximum size instead).
    fn num_queues(&mut self) -> Result<Option<u16>, TransportError> {
        Ok(None)
    }

    /// Returns the largest size of queue `index`, 0 if the queue does not
    /// exist. On legacy PCI this is the only size the device accepts.
    fn max_queue_size(&mut self, index: u16) -> Result<u16, TransportError>;

    /// Programs queue `index` with the given size and addresses. Legacy
    /// transports use `config.desc` as the base of the contiguous ring and
    /// `config.legacy_align` as its alignment.
    fn setup_queue(&mut self, index: u16, config: &QueueConfig) -> Result<(), TransportError>;

    /// Makes queue `index` usable by the device (`queue_enable` or
    /// `QueueReady`; a no-op where setting the address enables the queue).
    fn enable_queue(&mut self, index: u16) -> Result<(), TransportError>;

    /// Detaches queue `index` from its memory where the transport has a
    /// way to (legacy PCI `QueueAddress` = 0, MMIO v1 `QueuePFN` = 0, MMIO
    /// v2 `QueueReady` = 0). After a device reset this is optional.
    fn release_queue(&mut self, index: u16) -> Result<(), TransportError>;
}

/// Checks a queue size against the transport's maximum for queue `index`
/// and programs and enables the queue.
///
/// Fails with [`TransportError::NoQueue`] if the queue does not exist,
/// and with [`TransportError::InvalidQueue`] if the size exceeds the
/// maximum, is not a power of two, or differs from the fixed legacy PCI
/// size.
pub fn activate_queue<T: TransportSetup + ?Sized>(
    transport: &mut T,
    index: u16,
    config: &QueueConfig,
) -> Result<(), TransportError> {
    let max = transport.max_queue_size(index)?;
    if max == 0 {
        return Err(TransportError::NoQueue);
    }
    if config.size == 0 || !config.size.is_power_of_two() || config.size > max {
        return Err(TransportError::InvalidQueue);
    }
    if !transport.kind().can_resize_queue() && config.size != max {
        return Err(TransportError::InvalidQueue);
    }
    transport.setup_queue(index, config)?;
    transport.enable_queue(index)
}

/// Picks a split queue size: the largest power of two not above `max`
/// (the transport's maximum, which a buggy or hostile device may report
/// as a non-power of two), `wanted` and 32768. Returns 0 if `max` or
/// `wanted` is 0.
pub const fn pick_queue_size(max: u16, wanted: u16) -> u16 {
    let mut limit = if max < wanted { max } else { wanted };
    if limit > super::spec::MAX_QUEUE_SIZE {
        limit = super::spec::MAX_QUEUE_SIZE;
    }
    if limit == 0 {
        return 0;
    }
    // Highest set bit of `limit` (non-zero here).
    1u16 << 15u32.wrapping_sub(limit.leading_zeros())
}
