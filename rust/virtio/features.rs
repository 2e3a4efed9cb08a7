// SPDX-License-Identifier: GPL-2.0

//! Feature bits and feature negotiation.
//!
//! [`Features`] is a 128-bit set, the width Linux uses
//! (`include/linux/virtio_features.h`) and enough for every bit the spec
//! defines (bits 128 and above are "reserved for future extensions").
//! Transports move it in 32-bit words selected by index.
//!
//! [`negotiate`] computes the subset the driver accepts from what the
//! device offers, following spec §2.2.1 and §6:
//!
//! - only offered bits are accepted;
//! - the driver's table is limited to the device-specific ranges, and the
//!   device-independent bits to those the core, the transport and the
//!   caller all support;
//! - reserved, future and legacy-only bits are never accepted (except that
//!   a legacy interface accepts `VIRTIO_F_ANY_LAYOUT` as spec §6.3
//!   requires of a transitional driver);
//! - a feature whose prerequisites were not accepted is dropped;
//! - a modern interface fails if `VIRTIO_F_VERSION_1` is not offered, and
//!   accepts it whenever it is;
//! - a legacy interface has only 32 feature bits.
//!
//! Ref: virtio v1.4 §2.2 "Feature Bits", §6 "Reserved Feature Bits".

/// A feature bit number.
///
/// Bit numbers of 128 and above are representable here but are "reserved
/// for future extensions" (spec §2.2): a [`Features`] set ignores them.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Feature(u8);

impl Feature {
    /// Legacy only: notify even with suppression when out of descriptors.
    pub const NOTIFY_ON_EMPTY: Self = Self(24);
    /// Legacy only: the device accepts arbitrary descriptor layouts.
    pub const ANY_LAYOUT: Self = Self(27);
    /// The driver may use `VIRTQ_DESC_F_INDIRECT`.
    pub const INDIRECT_DESC: Self = Self(28);
    /// Enables the `used_event` and `avail_event` fields.
    pub const EVENT_IDX: Self = Self(29);
    /// Legacy only: bit 30, "SHOULD NOT be negotiated" (spec §6.3).
    pub const UNUSED_30: Self = Self(30);
    /// Compliance with virtio 1.x; absent on legacy devices.
    pub const VERSION_1: Self = Self(32);
    /// Device access to memory is limited or translated (IOMMU).
    pub const ACCESS_PLATFORM: Self = Self(33);
    /// The packed virtqueue layout is supported.
    pub const RING_PACKED: Self = Self(34);
    /// Buffers are used in the order they were made available.
    pub const IN_ORDER: Self = Self(35);
    /// Accesses need the barriers of a hardware device.
    pub const ORDER_PLATFORM: Self = Self(36);
    /// Single Root I/O Virtualization (PCI only).
    pub const SR_IOV: Self = Self(37);
    /// Driver notifications carry the next available position.
    pub const NOTIFICATION_DATA: Self = Self(38);
    /// The driver uses device-supplied data to identify a queue in notifications.
    pub const NOTIF_CONFIG_DATA: Self = Self(39);
    /// Individual virtqueues can be reset.
    pub const RING_RESET: Self = Self(40);
    /// The device has administration virtqueues (PCI only).
    pub const ADMIN_VQ: Self = Self(41);
    /// The driver can suspend the device.
    pub const SUSPEND: Self = Self(43);

    /// A feature by bit number (device-specific bits are defined by the
    /// device type, e.g. bit 0 of a network device is `VIRTIO_NET_F_CSUM`).
    pub const fn new(bit: u8) -> Self {
        Self(bit)
    }

    /// The bit number.
    pub const fn bit(self) -> u8 {
        self.0
    }
}

/// A set of feature bits 0..=127.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Features([u32; Features::WORDS]);

impl Features {
    /// Number of 32-bit words in the set.
    pub const WORDS: usize = 4;

    /// The empty set.
    pub const EMPTY: Self = Self([0; Self::WORDS]);

    /// Builds a set from 32-bit words (word `i` holds bits `32*i..32*i+31`).
    pub const fn from_words(words: [u32; Self::WORDS]) -> Self {
        Self(words)
    }

    /// Returns the 32-bit words of the set.
    pub const fn words(self) -> [u32; Self::WORDS] {
        self.0
    }

    /// Builds a set from the low 64 bits.
    pub const fn from_u64(bits: u64) -> Self {
        // CAST: intentional truncation to the low and high halves.
        Self([bits as u32, (bits >> 32) as u32, 0, 0])
    }

    /// Returns bits 0..=63 (the width of the legacy-era `u64` APIs).
    pub const fn low_u64(self) -> u64 {
        // CAST: lossless widening; `u64::from` is not `const`.
        (self.0[0] as u64) | ((self.0[1] as u64) << 32)
    }

    /// Returns word `index`, or 0 for a word beyond the set.
    pub const fn word(self, index: usize) -> u32 {
        match index {
            0 => self.0[0],
            1 => self.0[1],
            2 => self.0[2],
            3 => self.0[3],
            _ => 0,
        }
    }

    /// Returns `self` with `mask` or-ed into word `index` (ignored beyond
    /// the set).
    const fn or_word(self, index: usize, mask: u32) -> Self {
        let mut w = self.0;
        match index {
            0 => w[0] |= mask,
            1 => w[1] |= mask,
            2 => w[2] |= mask,
            3 => w[3] |= mask,
            _ => {}
        }
        Self(w)
    }

    /// Word index and mask of bit `f`.
    const fn locate(f: Feature) -> (usize, u32) {
        // CAST: lossless widening.
        let bit = f.0 as usize;
        (bit / 32, 1u32 << (bit % 32))
    }

    /// Replaces word `index`; words beyond the set are ignored.
    pub fn set_word(&mut self, index: usize, value: u32) {
        if let Some(w) = self.0.get_mut(index) {
            *w = value;
        }
    }

    /// The set holding only `f` (empty for a bit beyond 127).
    pub const fn single(f: Feature) -> Self {
        Self::EMPTY.with(f)
    }

    /// The set of bits `first..=last` (clamped to 127).
    pub const fn range(first: u8, last: u8) -> Self {
        let mut s = Self::EMPTY;
        let mut b = first;
        while b <= last && b < 128 {
            s = s.with(Feature(b));
            b = b.wrapping_add(1);
        }
        s
    }

    /// Returns `self` with `f` added.
    #[must_use]
    pub const fn with(self, f: Feature) -> Self {
        let (index, mask) = Self::locate(f);
        self.or_word(index, mask)
    }

    /// Returns `self` with `f` removed.
    #[must_use]
    pub const fn without(self, f: Feature) -> Self {
        let (index, mask) = Self::locate(f);
        self.difference(Self::EMPTY.or_word(index, mask))
    }

    /// Adds `f`.
    pub fn insert(&mut self, f: Feature) {
        *self = self.with(f);
    }

    /// Removes `f`.
    pub fn remove(&mut self, f: Feature) {
        *self = self.without(f);
    }

    /// Returns `true` if `f` is in the set.
    pub const fn contains(self, f: Feature) -> bool {
        let (index, mask) = Self::locate(f);
        self.word(index) & mask != 0
    }

    /// Returns `true` if every bit of `other` is in the set.
    pub const fn contains_all(self, other: Self) -> bool {
        self.intersection(other).eq_const(other)
    }

    /// Returns `true` if the set is empty.
    pub const fn is_empty(self) -> bool {
        self.eq_const(Self::EMPTY)
    }

    const fn eq_const(self, o: Self) -> bool {
        self.0[0] == o.0[0] && self.0[1] == o.0[1] && self.0[2] == o.0[2] && self.0[3] == o.0[3]
    }

    /// Bits in both sets.
    #[must_use]
    pub const fn intersection(self, o: Self) -> Self {
        Self([
            self.0[0] & o.0[0],
            self.0[1] & o.0[1],
            self.0[2] & o.0[2],
            self.0[3] & o.0[3],
        ])
    }

    /// Bits in either set.
    #[must_use]
    pub const fn union(self, o: Self) -> Self {
        Self([
            self.0[0] | o.0[0],
            self.0[1] | o.0[1],
            self.0[2] | o.0[2],
            self.0[3] | o.0[3],
        ])
    }

    /// Bits in `self` but not in `o`.
    #[must_use]
    pub const fn difference(self, o: Self) -> Self {
        Self([
            self.0[0] & !o.0[0],
            self.0[1] & !o.0[1],
            self.0[2] & !o.0[2],
            self.0[3] & !o.0[3],
        ])
    }

    /// Bits 0..=31 only: all a legacy interface can carry.
    #[must_use]
    pub const fn legacy_word(self) -> Self {
        Self([self.0[0], 0, 0, 0])
    }

    /// Device-type specific bits (spec §2.2: "0 to 23, 41, 42 and 50 to
    /// 127").
    ///
    /// Bit 41 is also `VIRTIO_F_ADMIN_VQ` in §6. The spec keeps 41 and 42 in
    /// the device range for the legacy network features `GUEST_RSC4/6`;
    /// [`negotiate`] lets the driver table claim them and also lets the core
    /// accept `ADMIN_VQ` if the caller opts in.
    pub const DEVICE_SPECIFIC: Self = Self::range(0, 23)
        .union(Self::range(41, 42))
        .union(Self::range(50, 127));

    /// Bits reserved for queue and feature-negotiation extensions (spec
    /// §2.2: "24 to 40, and 43"), plus `VIRTIO_F_ADMIN_VQ` (41), which §6
    /// defines as device-independent.
    pub const DEVICE_INDEPENDENT: Self = Self::range(24, 41).with(Feature::SUSPEND);

    /// Bits reserved for future extensions (44..=49; 128+ are not
    /// representable).
    pub const FUTURE: Self = Self::range(44, 49);

    /// Device-independent bits that exist only on legacy interfaces (spec
    /// §6.3).
    pub const LEGACY_ONLY: Self = Self::single(Feature::NOTIFY_ON_EMPTY)
        .with(Feature::ANY_LAYOUT)
        .with(Feature::UNUSED_30);

    /// Device-independent bits whose driver-side behaviour this core
    /// implements (or which need nothing from it beyond the transport):
    /// indirect descriptors, event index, `VERSION_1`, `ACCESS_PLATFORM`,
    /// `NOTIFICATION_DATA`, `RING_RESET` (accepted, never required to be
    /// used), `SR_IOV` and, for legacy interfaces, `ANY_LAYOUT` and
    /// `NOTIFY_ON_EMPTY`.
    ///
    /// Not implemented, so never accepted: `RING_PACKED` and `IN_ORDER`
    /// (the split ring neither batches in-order completions nor uses the
    /// packed layout yet), `ORDER_PLATFORM` (the rings are ordered with
    /// the lighter `virt_*` barriers, enough for a device emulated on
    /// other CPUs, not the platform's DMA barriers it asks for),
    /// `NOTIF_CONFIG_DATA` (notifications carry the queue index, never
    /// `queue_notif_config_data`), `ADMIN_VQ` and `SUSPEND`. A bit enters
    /// this list with the code that honours it.
    pub const CORE_IMPLEMENTED: Self = Self::single(Feature::INDIRECT_DESC)
        .with(Feature::EVENT_IDX)
        .with(Feature::VERSION_1)
        .with(Feature::ACCESS_PLATFORM)
        .with(Feature::NOTIFICATION_DATA)
        .with(Feature::RING_RESET)
        .with(Feature::SR_IOV)
        .with(Feature::ANY_LAYOUT)
        .with(Feature::NOTIFY_ON_EMPTY);

    /// The default device-independent bits a driver opts into:
    /// `INDIRECT_DESC`, `EVENT_IDX`, `VERSION_1`, `ACCESS_PLATFORM` and (legacy
    /// interfaces only) `ANY_LAYOUT`, which a transitional driver MUST
    /// accept when offered (spec §6.3).
    pub const CORE_DEFAULT: Self = Self::single(Feature::INDIRECT_DESC)
        .with(Feature::EVENT_IDX)
        .with(Feature::VERSION_1)
        .with(Feature::ACCESS_PLATFORM)
        .with(Feature::ANY_LAYOUT);
}

impl core::fmt::Debug for Features {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Features({:#010x}_{:08x}_{:08x}_{:08x})",
            self.0[3], self.0[2], self.0[1], self.0[0]
        )
    }
}

impl core::ops::BitAnd for Features {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        self.intersection(rhs)
    }
}

impl core::ops::BitOr for Features {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

/// A dependency between features: `feature` may only be accepted together
/// with every bit of `requires` (spec §2.2.1: the driver "MUST NOT accept a
/// feature which requires another feature which was not accepted").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureDep {
    /// The dependent feature.
    pub feature: Feature,
    /// Its prerequisites.
    pub requires: Features,
}

impl FeatureDep {
    /// `feature` requires every bit of `requires`.
    pub const fn new(feature: Feature, requires: Features) -> Self {
        Self { feature, requires }
    }
}

/// What a device driver supports and needs.
#[derive(Clone, Copy, Debug)]
pub struct DriverFeatures<'a> {
    /// Device-specific features the driver understands and wants. Bits
    /// outside [`Features::DEVICE_SPECIFIC`] are ignored.
    pub wanted: Features,
    /// Features without which the driver cannot operate; negotiation
    /// fails if any of them ends up not accepted. May include
    /// device-independent bits.
    pub required: Features,
    /// Dependencies to enforce among the accepted bits.
    pub deps: &'a [FeatureDep],
}

impl<'a> DriverFeatures<'a> {
    /// A driver that wants `wanted`, requires nothing and has no
    /// dependencies.
    pub const fn new(wanted: Features) -> Self {
        Self {
            wanted,
            required: Features::EMPTY,
            deps: &[],
        }
    }
}

/// Why feature negotiation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegotiationError {
    /// A modern interface's device did not offer `VIRTIO_F_VERSION_1`.
    MissingVersion1,
    /// These required features were not accepted.
    MissingRequired(Features),
}

/// Computes the features to accept.
///
/// - `offered`: what the device offers (all words read from the
///   transport);
/// - `driver`: the device driver's table;
/// - `independent`: device-independent bits the caller opts into, already
///   limited to what the transport supports (see
///   [`TransportSetup::supported_features`](super::transport::TransportSetup::supported_features));
///   typically [`Features::CORE_DEFAULT`];
/// - `legacy`: `true` for a legacy interface.
pub fn negotiate(
    offered: Features,
    driver: &DriverFeatures<'_>,
    independent: Features,
    legacy: bool,
) -> Result<Features, NegotiationError> {
    let offered = if legacy {
        offered.legacy_word()
    } else {
        if !offered.contains(Feature::VERSION_1) {
            return Err(NegotiationError::MissingVersion1);
        }
        offered
    };

    let mut core = independent
        .intersection(Features::CORE_IMPLEMENTED)
        .intersection(Features::DEVICE_INDEPENDENT);
    if legacy {
        // A transitional driver MUST accept ANY_LAYOUT if offered (§6.3).
        core = core.without(Feature::VERSION_1).with(Feature::ANY_LAYOUT);
    } else {
        core = core
            .difference(Features::LEGACY_ONLY)
            .with(Feature::VERSION_1);
    }
    // Bit 30 is never negotiated.
    core = core.without(Feature::UNUSED_30);

    let wanted = driver
        .wanted
        .intersection(Features::DEVICE_SPECIFIC)
        .union(core);
    let mut accepted = offered.intersection(wanted);

    // Drop features whose prerequisites are missing. Removing one can
    // invalidate another, so iterate to a fixed point. Each pass that
    // changes anything removes at least one bit, so at most `deps.len()`
    // passes change the set; the extra pass confirms the fixed point.
    let mut passes = driver.deps.len().saturating_add(1);
    while passes > 0 {
        passes = passes.wrapping_sub(1);
        let mut changed = false;
        for dep in driver.deps {
            if accepted.contains(dep.feature) && !accepted.contains_all(dep.requires) {
                accepted.remove(dep.feature);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    let missing = driver.required.difference(accepted);
    if !missing.is_empty() {
        return Err(NegotiationError::MissingRequired(missing));
    }
    Ok(accepted)
}
