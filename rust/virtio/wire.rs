// SPDX-License-Identifier: GPL-2.0

//! Little-endian wire types for structures shared with a virtio device.
//!
//! The virtio 1.x spec writes every multi-byte field of the rings and of
//! the modern transports as `le16`/`le32`/`le64` (spec §1.4, "Structure
//! Specifications"). These wrappers keep the stored representation
//! little-endian whatever the CPU byte order, so a `#[repr(C)]` structure
//! built from them has exactly the wire layout. Values go in with `new()`
//! and come out with `get()`; there is no implicit conversion.
//!
//! Ref: virtio v1.4 §1.4.

/// A little-endian `u16` as stored in device-shared memory (`le16`).
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Le16(u16);

/// A little-endian `u32` as stored in device-shared memory (`le32`).
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Le32(u32);

/// A little-endian `u64` as stored in device-shared memory (`le64`).
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Le64(u64);

macro_rules! le_impl {
    ($name:ident, $ty:ty) => {
        impl $name {
            /// Encodes a CPU-order value.
            #[inline(always)]
            pub const fn new(v: $ty) -> Self {
                Self(v.to_le())
            }

            /// Decodes to a CPU-order value.
            #[inline(always)]
            pub const fn get(self) -> $ty {
                <$ty>::from_le(self.0)
            }

            /// Wraps a value that already has the wire (little-endian)
            /// representation, e.g. one read with a plain native load from
            /// device memory.
            #[inline(always)]
            pub const fn from_raw(raw: $ty) -> Self {
                Self(raw)
            }

            /// Returns the raw stored representation, suitable for a plain
            /// native store into device memory.
            #[inline(always)]
            pub const fn to_raw(self) -> $ty {
                self.0
            }
        }

        impl From<$ty> for $name {
            #[inline(always)]
            fn from(v: $ty) -> Self {
                Self::new(v)
            }
        }

        impl From<$name> for $ty {
            #[inline(always)]
            fn from(v: $name) -> Self {
                v.get()
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Debug::fmt(&self.get(), f)
            }
        }
    };
}

le_impl!(Le16, u16);
le_impl!(Le32, u32);
le_impl!(Le64, u64);

/// Byte order of the fields of a virtqueue, of device configuration and of
/// device headers (virtio-blk's request header, virtio-net's header).
///
/// Modern (virtio 1.x) interfaces are always little-endian. Legacy
/// interfaces use the guest's native byte order (spec §2.7.3 "Legacy
/// Interfaces: A Note on Virtqueue Endianness", §2.5.3 for the
/// configuration space, and each device's "Legacy Interface" notes for its
/// headers), which matters on big-endian guests such as s390x with a
/// revision-0 virtio-ccw device. The order is a property of the transport:
/// [`TransportKind::byte_order`](super::transport::TransportKind::byte_order);
/// code that encodes or decodes what the device sees takes it from there and
/// never assumes little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// Little-endian (all modern interfaces).
    Little,
    /// Big-endian (legacy interfaces on big-endian guests).
    Big,
}

impl ByteOrder {
    /// The CPU's native byte order.
    pub const NATIVE: ByteOrder = if cfg!(target_endian = "big") {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };

    /// Byte order of the rings for a legacy (`true`) or modern interface.
    pub const fn for_interface(legacy: bool) -> Self {
        if legacy {
            Self::NATIVE
        } else {
            Self::Little
        }
    }

    /// Converts a CPU-order value to the representation to store with a
    /// plain native `u16` store.
    #[inline(always)]
    pub const fn to_raw16(self, v: u16) -> u16 {
        match self {
            Self::Little => v.to_le(),
            Self::Big => v.to_be(),
        }
    }

    /// Converts a value loaded with a plain native `u16` load to CPU order.
    #[inline(always)]
    pub const fn from_raw16(self, raw: u16) -> u16 {
        match self {
            Self::Little => u16::from_le(raw),
            Self::Big => u16::from_be(raw),
        }
    }

    /// Converts a CPU-order value to the representation to store with a
    /// plain native `u32` store.
    #[inline(always)]
    pub const fn to_raw32(self, v: u32) -> u32 {
        match self {
            Self::Little => v.to_le(),
            Self::Big => v.to_be(),
        }
    }

    /// Converts a value loaded with a plain native `u32` load to CPU order.
    #[inline(always)]
    pub const fn from_raw32(self, raw: u32) -> u32 {
        match self {
            Self::Little => u32::from_le(raw),
            Self::Big => u32::from_be(raw),
        }
    }

    /// Converts a CPU-order value to the representation to store with a
    /// plain native `u64` store.
    #[inline(always)]
    pub const fn to_raw64(self, v: u64) -> u64 {
        match self {
            Self::Little => v.to_le(),
            Self::Big => v.to_be(),
        }
    }

    /// Converts a value loaded with a plain native `u64` load to CPU order.
    #[inline(always)]
    pub const fn from_raw64(self, raw: u64) -> u64 {
        match self {
            Self::Little => u64::from_le(raw),
            Self::Big => u64::from_be(raw),
        }
    }

    /// The bytes of a CPU-order `v` as the device reads them in this order
    /// (a header field, a configuration field).
    #[inline(always)]
    pub const fn to_device_u16(self, v: u16) -> [u8; 2] {
        match self {
            Self::Little => v.to_le_bytes(),
            Self::Big => v.to_be_bytes(),
        }
    }

    /// The bytes of a CPU-order `v` in this order.
    #[inline(always)]
    pub const fn to_device_u32(self, v: u32) -> [u8; 4] {
        match self {
            Self::Little => v.to_le_bytes(),
            Self::Big => v.to_be_bytes(),
        }
    }

    /// The bytes of a CPU-order `v` in this order.
    #[inline(always)]
    pub const fn to_device_u64(self, v: u64) -> [u8; 8] {
        match self {
            Self::Little => v.to_le_bytes(),
            Self::Big => v.to_be_bytes(),
        }
    }

    /// The CPU-order value of the device's bytes `b` in this order.
    #[inline(always)]
    pub const fn from_device_u16(self, b: [u8; 2]) -> u16 {
        match self {
            Self::Little => u16::from_le_bytes(b),
            Self::Big => u16::from_be_bytes(b),
        }
    }

    /// The CPU-order value of the device's bytes `b` in this order.
    #[inline(always)]
    pub const fn from_device_u32(self, b: [u8; 4]) -> u32 {
        match self {
            Self::Little => u32::from_le_bytes(b),
            Self::Big => u32::from_be_bytes(b),
        }
    }

    /// The CPU-order value of the device's bytes `b` in this order.
    #[inline(always)]
    pub const fn from_device_u64(self, b: [u8; 8]) -> u64 {
        match self {
            Self::Little => u64::from_le_bytes(b),
            Self::Big => u64::from_be_bytes(b),
        }
    }
}
