// SPDX-License-Identifier: GPL-2.0

//! Constants of the virtio specification: device IDs, device status bits
//! and virtqueue flag values.
//!
//! Ref: virtio v1.4 §2.1 "Device Status Field", §5 "Device Types",
//! §2.7 "Split Virtqueues", §2.8 "Packed Virtqueues".

/// A virtio device type ("Device ID", spec §5).
///
/// The transports carry it differently: the PCI device ID is `0x1040 +
/// id` (or the subsystem ID of a transitional device), MMIO has the
/// `DeviceID` register, and virtio-ccw uses the control unit model.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceId(pub u32);

impl DeviceId {
    /// 0: reserved (invalid). MMIO drivers ignore such a device.
    pub const INVALID: Self = Self(0);
    /// 1: network device.
    pub const NET: Self = Self(1);
    /// 2: block device.
    pub const BLOCK: Self = Self(2);
    /// 3: console.
    pub const CONSOLE: Self = Self(3);
    /// 4: entropy source.
    pub const ENTROPY: Self = Self(4);
    /// 5: memory ballooning (traditional).
    pub const BALLOON: Self = Self(5);
    /// 6: ioMemory.
    pub const IOMEMORY: Self = Self(6);
    /// 7: rpmsg.
    pub const RPMSG: Self = Self(7);
    /// 8: SCSI host.
    pub const SCSI: Self = Self(8);
    /// 9: 9P transport.
    pub const NINEP: Self = Self(9);
    /// 10: mac80211 wlan.
    pub const MAC80211_WLAN: Self = Self(10);
    /// 11: rproc serial.
    pub const RPROC_SERIAL: Self = Self(11);
    /// 12: virtio CAIF.
    pub const CAIF: Self = Self(12);
    /// 13: memory balloon.
    pub const MEMORY_BALLOON: Self = Self(13);
    /// 16: GPU device.
    pub const GPU: Self = Self(16);
    /// 17: RTC (real time clock) device.
    pub const RTC: Self = Self(17);
    /// 18: input device.
    pub const INPUT: Self = Self(18);
    /// 19: socket device (vsock).
    pub const VSOCK: Self = Self(19);
    /// 20: crypto device.
    pub const CRYPTO: Self = Self(20);
    /// 21: signal distribution module.
    pub const SIGNAL_DIST: Self = Self(21);
    /// 22: pstore device.
    pub const PSTORE: Self = Self(22);
    /// 23: IOMMU device.
    pub const IOMMU: Self = Self(23);
    /// 24: memory device.
    pub const MEM: Self = Self(24);
    /// 25: sound device.
    pub const SOUND: Self = Self(25);
    /// 26: file system device.
    pub const FS: Self = Self(26);
    /// 27: PMEM device.
    pub const PMEM: Self = Self(27);
    /// 28: RPMB device.
    pub const RPMB: Self = Self(28);
    /// 29: mac80211 hwsim wireless simulation device.
    pub const MAC80211_HWSIM: Self = Self(29);
    /// 30: video encoder device.
    pub const VIDEO_ENCODER: Self = Self(30);
    /// 31: video decoder device.
    pub const VIDEO_DECODER: Self = Self(31);
    /// 32: SCMI device.
    pub const SCMI: Self = Self(32);
    /// 33: NitroSecureModule.
    pub const NITRO_SEC_MOD: Self = Self(33);
    /// 34: I2C adapter.
    pub const I2C_ADAPTER: Self = Self(34);
    /// 35: watchdog.
    pub const WATCHDOG: Self = Self(35);
    /// 36: CAN device.
    pub const CAN: Self = Self(36);
    /// 38: parameter server.
    pub const PARAM_SERV: Self = Self(38);
    /// 39: audio policy device.
    pub const AUDIO_POLICY: Self = Self(39);
    /// 40: Bluetooth device.
    pub const BT: Self = Self(40);
    /// 41: GPIO device.
    pub const GPIO: Self = Self(41);
    /// 42: RDMA device.
    pub const RDMA: Self = Self(42);
    /// 43: camera device.
    pub const CAMERA: Self = Self(43);
    /// 44: ISM device.
    pub const ISM: Self = Self(44);
    /// 45: SPI controller.
    pub const SPI: Self = Self(45);
    /// 46: TEE device.
    pub const TEE: Self = Self(46);
    /// 47: CPU balloon device.
    pub const CPU_BALLOON: Self = Self(47);
    /// 48: media device.
    pub const MEDIA: Self = Self(48);
    /// 49: USB controller.
    pub const USB: Self = Self(49);

    /// PCI vendor ID of every virtio PCI function (spec §4.1.2).
    pub const PCI_VENDOR: u16 = 0x1af4;
    /// First modern (non-transitional) PCI device ID: `0x1040 + device id`.
    pub const PCI_MODERN_BASE: u16 = 0x1040;

    /// Returns the device type of a virtio PCI function, given its PCI
    /// device ID and subsystem device ID (spec §4.1.2).
    ///
    /// Modern IDs `0x1040..=0x107f` encode the type directly. Transitional
    /// IDs `0x1000..=0x103f` carry the type in the subsystem device ID.
    /// Returns `None` for IDs outside both ranges.
    pub const fn from_pci(device_id: u16, subsystem_device_id: u16) -> Option<Self> {
        match device_id {
            0x1000..=0x103f => Some(Self(subsystem_device_id as u32)),
            0x1040..=0x107f => Some(Self(device_id.wrapping_sub(Self::PCI_MODERN_BASE) as u32)),
            _ => None,
        }
    }

    /// Returns the modern PCI device ID (`0x1040 + id`) of this type, or
    /// `None` if it does not fit the modern range.
    pub const fn modern_pci_id(self) -> Option<u16> {
        if self.0 <= 0x3f {
            Some(Self::PCI_MODERN_BASE.wrapping_add(self.0 as u16))
        } else {
            None
        }
    }

    /// Returns the transitional PCI device ID of this type, if the spec
    /// defines one (spec §4.1.2.3, table "Transitional PCI Device IDs").
    pub const fn transitional_pci_id(self) -> Option<u16> {
        match self.0 {
            1 => Some(0x1000),
            2 => Some(0x1001),
            5 => Some(0x1002),
            3 => Some(0x1003),
            8 => Some(0x1004),
            4 => Some(0x1005),
            9 => Some(0x1009),
            _ => None,
        }
    }
}

/// The `device status` field (spec §2.1).
///
/// The driver only ever adds bits (spec §2.1.1: it "MUST NOT clear a device
/// status bit"); the only way back to zero is a device reset.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Status(u8);

impl Status {
    /// Status after reset.
    pub const RESET: Self = Self(0);
    /// The guest OS has found the device and recognised it as virtio.
    pub const ACKNOWLEDGE: Self = Self(1);
    /// The guest OS knows how to drive the device.
    pub const DRIVER: Self = Self(2);
    /// The driver is set up and ready to drive the device.
    pub const DRIVER_OK: Self = Self(4);
    /// Feature negotiation is complete.
    pub const FEATURES_OK: Self = Self(8);
    /// The device has been suspended (`VIRTIO_F_SUSPEND`).
    pub const SUSPEND: Self = Self(16);
    /// The device hit an error it cannot recover from without a reset.
    pub const DEVICE_NEEDS_RESET: Self = Self(64);
    /// The driver has given up on the device.
    pub const FAILED: Self = Self(128);

    /// Builds a status from its raw register value.
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// Returns the raw register value.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Returns `true` if every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Returns the union of both bit sets.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl core::ops::BitOr for Status {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.with(rhs)
    }
}

/// Largest queue size of a split or packed virtqueue (spec §2.7: "the
/// maximum queue size is 32768").
pub const MAX_QUEUE_SIZE: u16 = 32768;

/// Descriptor flag: the buffer continues via the `next` field.
pub const VIRTQ_DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the buffer is device write-only (else read-only).
pub const VIRTQ_DESC_F_WRITE: u16 = 2;
/// Descriptor flag: the buffer contains a table of indirect descriptors.
pub const VIRTQ_DESC_F_INDIRECT: u16 = 4;
/// Packed descriptor flag: the `AVAIL` bit (bit 7).
pub const VIRTQ_DESC_F_AVAIL: u16 = 1 << 7;
/// Packed descriptor flag: the `USED` bit (bit 15).
pub const VIRTQ_DESC_F_USED: u16 = 1 << 15;

/// Available ring flag: the driver does not want used buffer notifications.
pub const VIRTQ_AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Used ring flag: the device does not want available buffer notifications.
pub const VIRTQ_USED_F_NO_NOTIFY: u16 = 1;

/// Packed event suppression flags value: notifications enabled.
pub const RING_EVENT_FLAGS_ENABLE: u16 = 0x0;
/// Packed event suppression flags value: notifications disabled.
pub const RING_EVENT_FLAGS_DISABLE: u16 = 0x1;
/// Packed event suppression flags value: notify at a specific descriptor
/// (`VIRTIO_F_EVENT_IDX` only).
pub const RING_EVENT_FLAGS_DESC: u16 = 0x2;

/// ISR / `InterruptStatus` bit 0: a used buffer notification.
pub const ISR_QUEUE: u8 = 0x1;
/// ISR / `InterruptStatus` bit 1: a configuration change notification.
pub const ISR_CONFIG: u8 = 0x2;
