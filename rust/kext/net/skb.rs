// SPDX-License-Identifier: GPL-2.0

//! Packets: [`Skb`] (one the stack hands the driver to send) and
//! [`TxSkb`] (the same, mapped for the device), [`RxFrag`] and
//! [`MappedRxFrag`] (receive buffers, page fragments), and [`RxSkb`] (a
//! received packet being built from them). Each is an owned value:
//! dropping it frees (or unmaps and frees) what it holds.

use super::*;
use crate::{
    kext::dma::{DmaDevice, Mapping},
    virtio::{
        net::{Gso, GsoKind},
        queue::Buf,
    },
};
use kernel::dma::DataDirection;

/// The shim's `RVIRTIO_GSO_*` bits.
mod gso_bits {
    pub(super) const TCPV4: u32 = 1;
    pub(super) const TCPV6: u32 = 2;
    pub(super) const UDP: u32 = 4;
    pub(super) const UDP_L4: u32 = 8;
    pub(super) const ECN: u32 = 16;
    // RVIRTIO_GSO_OTHER (32): any bit not above, a type to drop.
}

/// What a packet to send asks of the device, from its skb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxInfo {
    /// Total length.
    pub len: u32,
    /// Length of the linear part.
    pub headlen: u32,
    /// Page fragments after it.
    pub nr_frags: u32,
    /// A partial checksum: `(start, offset)`, `start` from the frame's
    /// first byte.
    pub csum: Option<(u16, u16)>,
    /// Segmentation, for a GSO packet of a known type.
    pub gso: Option<Gso>,
    /// A GSO packet of a type this module does not know (to be dropped).
    pub gso_unknown: bool,
}

fn gso_from_bits(bits: u32, size: u16) -> (Option<Gso>, bool) {
    if bits == 0 {
        return (None, false);
    }
    let kind = match bits & !gso_bits::ECN {
        gso_bits::TCPV4 => GsoKind::Tcp4,
        gso_bits::TCPV6 => GsoKind::Tcp6,
        gso_bits::UDP => GsoKind::Udp,
        gso_bits::UDP_L4 => GsoKind::UdpL4,
        _ => return (None, true),
    };
    let ecn = bits & gso_bits::ECN != 0;
    (Some(Gso { kind, size, ecn }), false)
}

fn gso_to_bits(g: &Gso) -> u32 {
    let k = match g.kind {
        GsoKind::Tcp4 => gso_bits::TCPV4,
        GsoKind::Tcp6 => gso_bits::TCPV6,
        GsoKind::Udp => gso_bits::UDP,
        GsoKind::UdpL4 => gso_bits::UDP_L4,
    };
    if g.ecn {
        k | gso_bits::ECN
    } else {
        k
    }
}

/// A packet the stack handed the driver; dropped (freed, counted as a drop
/// of unspecified reason) unless consumed.
///
/// # Invariants
///
/// `0` is an skb the value owns.
pub struct Skb(NonNull<RawSkb>);

// SAFETY: an owned skb may be freed or used from any thread.
unsafe impl Send for Skb {}
// SAFETY: `&Skb` only reads it.
unsafe impl Sync for Skb {}

impl Skb {
    /// # Safety
    ///
    /// `raw` is an skb the caller owns and hands over.
    pub(super) unsafe fn from_raw(raw: NonNull<RawSkb>) -> Self {
        // INVARIANT: as the caller promises.
        Self(raw)
    }

    /// Gives the skb up without freeing it.
    pub(super) fn into_raw(self) -> *mut RawSkb {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }

    fn raw(&self) -> *mut RawSkb {
        self.0.as_ptr()
    }

    /// The packet's length.
    pub fn len(&self) -> u32 {
        // SAFETY: an owned skb (type invariant).
        unsafe { rvirtio_skb_len(self.raw()) }
    }

    /// Whether the packet is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the packet asks of the device.
    pub fn tx_info(&self) -> TxInfo {
        let mut t = RawTxInfo::default();
        // SAFETY: an owned skb; `t` is a valid place for the result.
        unsafe { rvirtio_skb_tx_info(self.raw(), &mut t) };
        let (gso, gso_unknown) = gso_from_bits(t.gso, t.gso_size);
        TxInfo {
            len: t.len,
            headlen: t.headlen,
            nr_frags: t.nr_frags,
            csum: (t.csum_partial != 0).then_some((t.csum_start, t.csum_offset)),
            gso,
            gso_unknown,
        }
    }

    /// Drops the packet, for `reason`.
    pub fn drop_with(self, reason: DropReason) {
        let p = self.into_raw();
        // SAFETY: owned, handed over here.
        unsafe { rvirtio_skb_drop(p, reason as u32) }
    }
}

impl Drop for Skb {
    fn drop(&mut self) {
        // SAFETY: owned (type invariant); not used after.
        unsafe { rvirtio_skb_drop(self.raw(), DropReason::NotSpecified as u32) }
    }
}

/// A packet mapped for the device to read: the header, then the linear
/// part and every fragment. The header goes in the skb's headroom, right
/// before the linear part, so both are one element (C's `can_push`), when
/// the device takes any layout and the headroom allows; else in the skb's
/// control buffer, an element of its own. Dropping it unmaps and then
/// frees the packet.
pub struct TxSkb {
    // Field order is drop order: unmap before the skb is freed.
    maps: KVec<Mapping>,
    skb: Skb,
    len: u32,
}

impl TxSkb {
    /// Maps `skb` for `dma` after copying `header` (at most
    /// [`HDR_LEN_MAX`](crate::virtio::net::wire::HDR_LEN_MAX) bytes) in
    /// front of its linear part when `any_layout` (the device takes the
    /// header and data in one element: VERSION_1 or ANY_LAYOUT) and the
    /// skb has the room, else into its control buffer (at least
    /// `HDR_LEN_MAX` bytes, checked by [`check_abi`]). The skb comes back
    /// on failure. Not in hardirq (allocates with `GFP_ATOMIC`).
    pub fn map(
        skb: Skb,
        dma: &DmaDevice,
        header: &[u8],
        any_layout: bool,
    ) -> Result<Self, (Error, Skb)> {
        match Self::map_parts(&skb, dma, header, any_layout) {
            Ok(maps) => {
                let len = skb.len();
                Ok(Self { maps, skb, len })
            }
            Err(e) => Err((e, skb)),
        }
    }

    fn map_parts(
        skb: &Skb,
        dma: &DmaDevice,
        header: &[u8],
        any_layout: bool,
    ) -> Result<KVec<Mapping>> {
        if header.is_empty() || header.len() > HDR_LEN_MAX {
            return Err(EINVAL);
        }
        let info = skb.tx_info();
        // CAST: a `u32` fits `usize`.
        let n = (info.nr_frags as usize).saturating_add(2);
        let mut maps = KVec::with_capacity(n, GFP_ATOMIC)?;
        // CAST: at most `HDR_LEN_MAX`.
        let hlen = header.len() as u32;
        let room = if any_layout {
            // SAFETY: an owned skb.
            unsafe { rvirtio_skb_hdr_room(skb.raw(), hlen) }
        } else {
            core::ptr::null_mut()
        };
        if !room.is_null() {
            // SAFETY: the shim found `hlen` bytes of headroom at `room`,
            // right before the linear data, in the skb's own (not cloned)
            // head, which the driver may write while it owns the skb; they
            // do not overlap `header` (a Rust slice).
            unsafe { core::ptr::copy_nonoverlapping(header.as_ptr(), room, header.len()) };
            let len = header.len().saturating_add(info.headlen as usize);
            // SAFETY: the header and the `headlen` bytes of linear data
            // after it, contiguous in the skb's head (kmalloc or page
            // fragment memory), unchanged while mapped (`TxSkb` unmaps
            // before it frees the skb).
            let m = unsafe { dma.map(room, len, DataDirection::ToDevice) }?;
            maps.push(m, GFP_ATOMIC)?;
        } else {
            // SAFETY: an owned skb; its control buffer is the driver's
            // while it owns the skb, and holds at least `HDR_LEN_MAX`
            // bytes (`check_abi`).
            let cb = unsafe { rvirtio_skb_cb(skb.raw()) };
            // SAFETY: `cb` has room for `header.len() <= HDR_LEN_MAX`
            // bytes and does not overlap `header` (a Rust slice).
            unsafe { core::ptr::copy_nonoverlapping(header.as_ptr(), cb, header.len()) };
            // SAFETY: the control buffer is inside the skb, slab memory in
            // the linear map; the skb stays ours and unchanged while `maps`
            // lives (`TxSkb` drops them first).
            let m = unsafe { dma.map(cb, header.len(), DataDirection::ToDevice) }?;
            maps.push(m, GFP_ATOMIC)?;
        }
        if room.is_null() && info.headlen != 0 {
            // SAFETY: an owned skb.
            let data = unsafe { rvirtio_skb_data(skb.raw()) };
            // SAFETY: `headlen` bytes of linear skb data (kmalloc or page
            // fragment memory), unchanged while mapped (as above).
            let m = unsafe { dma.map(data, info.headlen as usize, DataDirection::ToDevice) }?;
            maps.push(m, GFP_ATOMIC)?;
        }
        for i in 0..info.nr_frags {
            let mut addr = core::ptr::null_mut();
            let mut len = 0u32;
            // SAFETY: an owned skb; the shim checks `i`.
            kernel::error::to_result(unsafe {
                rvirtio_skb_frag(skb.raw(), i, &mut addr, &mut len)
            })?;
            if len == 0 {
                continue;
            }
            // SAFETY: a fragment of the skb: page memory in the linear map
            // (64-bit), held by the skb, unchanged while mapped.
            let m = unsafe { dma.map(addr, len as usize, DataDirection::ToDevice) }?;
            maps.push(m, GFP_ATOMIC)?;
        }
        Ok(maps)
    }

    /// The device-readable elements, in `out`; `None` when `out` is too
    /// small.
    pub fn bufs<'b>(&self, out: &'b mut [Buf]) -> Option<&'b [Buf]> {
        let out = out.get_mut(..self.maps.len())?;
        for (b, m) in out.iter_mut().zip(self.maps.iter()) {
            *b = Buf::new(m.dma_addr(), u32::try_from(m.len()).ok()?);
        }
        Some(out)
    }

    /// Number of elements.
    pub fn nbufs(&self) -> usize {
        self.maps.len()
    }

    /// The packet's length.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the packet is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The device sent it: unmaps and frees it (as consumed) in a NAPI
    /// poll with `budget` (0 from netpoll).
    pub fn complete(self, _poll: &NapiPoll<'_>, budget: u32) {
        let Self { maps, skb, .. } = self;
        drop(maps);
        let p = skb.into_raw();
        let budget = kernel::ffi::c_int::try_from(budget).unwrap_or(kernel::ffi::c_int::MAX);
        // SAFETY: owned, unmapped, handed over; in a NAPI poll (`_poll`).
        unsafe { rvirtio_napi_consume_skb(p, budget) }
    }
}

/// A receive buffer: a page fragment of the size [`RxFrag::alloc`]
/// rounded to; freed when dropped.
///
/// # Invariants
///
/// `addr` is a page fragment of `size` bytes from the shim's allocator,
/// owned by the value (one page reference).
pub struct RxFrag {
    addr: NonNull<u8>,
    size: u32,
}

// SAFETY: an owned fragment may be used and freed from any thread.
unsafe impl Send for RxFrag {}
// SAFETY: `&RxFrag` only reads it.
unsafe impl Sync for RxFrag {}

impl RxFrag {
    /// A fragment of at least `len` bytes (rounded up to the cache line);
    /// `None` without memory. Any context but hardirq.
    pub fn alloc(len: u32) -> Option<Self> {
        if len == 0 {
            return None;
        }
        // SAFETY: pure.
        let size = unsafe { rvirtio_net_frag_size(len) };
        // SAFETY: allocates; any context but hardirq.
        let addr = NonNull::new(unsafe { rvirtio_net_alloc_frag(len) })?;
        // INVARIANT: a fragment of `size` bytes, ours.
        Some(Self { addr, size })
    }

    /// Its size.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Copies the bytes at `off` into `out`.
    ///
    /// # Errors
    ///
    /// `EINVAL` when they are not all inside the fragment.
    pub fn read(&self, off: u32, out: &mut [u8]) -> Result {
        let end = u32::try_from(out.len())
            .ok()
            .and_then(|l| off.checked_add(l))
            .ok_or(EINVAL)?;
        if end > self.size {
            return Err(EINVAL);
        }
        // SAFETY: `off..end` is inside the fragment (checked), which we
        // own and the device no longer maps (only a `MappedRxFrag` is
        // mapped); its bytes are plain memory (the page allocator's or
        // the device's), and `out` does not overlap it.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.addr.as_ptr().add(off as usize),
                out.as_mut_ptr(),
                out.len(),
            )
        };
        Ok(())
    }

    /// Gives the fragment (its page reference) up.
    fn into_raw(self) -> *mut u8 {
        let p = self.addr.as_ptr();
        core::mem::forget(self);
        p
    }
}

impl Drop for RxFrag {
    fn drop(&mut self) {
        // SAFETY: owned (type invariant), not used after.
        unsafe { rvirtio_net_free_frag(self.addr.as_ptr()) }
    }
}

/// A receive fragment mapped for the device to write; the CPU gets it
/// back with [`MappedRxFrag::unmap`]. Dropping it unmaps and frees.
pub struct MappedRxFrag {
    // Field order is drop order: unmap before the fragment is freed.
    map: Mapping,
    frag: RxFrag,
}

impl MappedRxFrag {
    /// Maps all of `frag` for `dma`, device-writable; the fragment comes
    /// back on failure.
    pub fn map(frag: RxFrag, dma: &DmaDevice) -> Result<Self, (Error, RxFrag)> {
        // SAFETY: a page fragment in the linear map, owned by the result
        // and not touched by the CPU until it is unmapped (`unmap` or
        // drop, which unmaps before freeing).
        match unsafe {
            dma.map(
                frag.addr.as_ptr(),
                frag.size as usize,
                DataDirection::FromDevice,
            )
        } {
            Ok(map) => Ok(Self { map, frag }),
            Err(e) => Err((e, frag)),
        }
    }

    /// The device-writable element.
    pub fn buf(&self) -> Buf {
        Buf::new(self.map.dma_addr(), self.frag.size)
    }

    /// Unmaps the fragment: the CPU may read what the device wrote.
    pub fn unmap(self) -> RxFrag {
        let Self { map, frag } = self;
        drop(map);
        frag
    }
}

/// A received packet being built (in a NAPI poll): a linear part copied
/// from the first buffer and page fragments, chained past
/// `MAX_SKB_FRAGS`. Dropped (counted as a drop) unless handed to
/// [`NapiPoll::gro_receive`].
///
/// # Invariants
///
/// `head` is an skb the value owns; `curr` is `head` or an skb chained to
/// it.
pub struct RxSkb {
    head: NonNull<RawSkb>,
    curr: NonNull<RawSkb>,
}

// SAFETY: an owned skb may be used and freed from any thread.
unsafe impl Send for RxSkb {}

impl RxSkb {
    /// # Safety
    ///
    /// `raw` is a new skb the caller hands over.
    pub(super) unsafe fn from_raw(raw: NonNull<RawSkb>) -> Self {
        // INVARIANT: a new skb: its own chain.
        Self {
            head: raw,
            curr: raw,
        }
    }

    pub(super) fn into_raw(self) -> *mut RawSkb {
        let p = self.head.as_ptr();
        core::mem::forget(self);
        p
    }

    /// The packet's length so far.
    pub fn len(&self) -> u32 {
        // SAFETY: owned (type invariant).
        unsafe { rvirtio_skb_len(self.head.as_ptr()) }
    }

    /// Whether the packet is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `len` bytes of `frag` at `off` to the linear part.
    ///
    /// # Errors
    ///
    /// `EINVAL` outside the fragment, `ENOSPC` without the room.
    pub fn put(&mut self, frag: &RxFrag, off: u32, len: u32) -> Result {
        let end = off.checked_add(len).ok_or(EINVAL)?;
        if end > frag.size {
            return Err(EINVAL);
        }
        // SAFETY: an owned skb; `off..end` is inside the fragment we
        // borrow, which the device no longer maps.
        kernel::error::to_result(unsafe {
            rvirtio_skb_put_data(
                self.head.as_ptr(),
                frag.addr.as_ptr().add(off as usize),
                len,
            )
        })
    }

    /// Appends `len` bytes of `frag` at `off` as a page fragment; the skb
    /// takes the fragment. It comes back when no skb could be chained.
    pub fn add_frag(&mut self, frag: RxFrag, off: u32, len: u32) -> Result<(), (Error, RxFrag)> {
        match off.checked_add(len) {
            Some(end) if end <= frag.size && len != 0 => {}
            _ => return Err((EINVAL, frag)),
        }
        let truesize = frag.size;
        let mut curr = self.curr.as_ptr();
        // SAFETY: `off + len` is inside the fragment.
        let addr = unsafe { frag.addr.as_ptr().add(off as usize) };
        // SAFETY: an owned skb chain (type invariant); the fragment's
        // page reference goes to the skb on success.
        let r = unsafe { rvirtio_skb_add_frag(self.head.as_ptr(), &mut curr, addr, len, truesize) };
        if r != 0 {
            return Err((Error::from_errno(r), frag));
        }
        let _ = frag.into_raw();
        if let Some(c) = NonNull::new(curr) {
            // INVARIANT: the shim chained it to `head`.
            self.curr = c;
        }
        Ok(())
    }

    /// A partial checksum: the sum from `start` (from the frame's first
    /// byte) to the end goes at `start + offset`.
    ///
    /// # Errors
    ///
    /// `EINVAL` when it lies outside the packet.
    pub fn set_csum_partial(&mut self, start: u16, offset: u16) -> Result {
        // SAFETY: an owned skb.
        if unsafe { rvirtio_skb_set_csum_partial(self.head.as_ptr(), start, offset) } {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    /// The checksum was verified by the device.
    pub fn set_csum_unnecessary(&mut self) {
        // SAFETY: an owned skb.
        unsafe { rvirtio_skb_set_csum_unnecessary(self.head.as_ptr()) }
    }

    /// Segmentation metadata from an untrusted device (marked so: the
    /// stack checks the segments).
    ///
    /// # Errors
    ///
    /// `EINVAL` without a partial checksum set first, or for a zero size.
    pub fn set_gso(&mut self, gso: &Gso) -> Result {
        // SAFETY: an owned skb.
        kernel::error::to_result(unsafe {
            rvirtio_skb_set_gso(self.head.as_ptr(), gso_to_bits(gso), gso.size)
        })
    }

    /// Drops the packet, for `reason`.
    pub fn drop_with(self, reason: DropReason) {
        let p = self.into_raw();
        // SAFETY: owned, handed over here.
        unsafe { rvirtio_skb_drop(p, reason as u32) }
    }
}

impl Drop for RxSkb {
    fn drop(&mut self) {
        // SAFETY: owned (type invariant), not used after; the chain goes
        // with the head.
        unsafe { rvirtio_skb_drop(self.head.as_ptr(), DropReason::NotSpecified as u32) }
    }
}
