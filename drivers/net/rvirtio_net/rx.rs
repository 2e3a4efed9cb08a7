// SPDX-License-Identifier: GPL-2.0

//! Receive: posting buffers, and the receive NAPI poll that turns used
//! buffers into packets after the core validated what the device said.

use super::*;
use crate::{
    net::{
        DropReason,
        RxFrag,
        RxSkb, //
    },
    virtio::net::{
        check_num_buffers, mergeable_buf_len, validate_rx,
        wire::{
            Header,
            HDR_LEN_MAX, //
        },
        Merge, RxCsum, RxError,
    },
};

/// Bytes of a packet copied into the skb's linear part; the rest stays in
/// the page fragments. Enough for the Ethernet, IP and TCP headers.
const COPY_LEN: u32 = 128;
/// Packets up to this length are copied whole, and their fragment freed.
const COPY_ALL: u32 = 256;
/// Largest mergeable buffer (as the C driver: a page).
const MERGE_MAX: usize = kernel::page::PAGE_SIZE;
/// Mergeable buffer sizes are multiples of the cache line.
const MERGE_ALIGN: usize = 64;

/// Invalid packets logged (all are counted).
const LOGGED_ERRORS: u64 = 10;

/// Why a received packet was not delivered.
enum Bad {
    /// No memory for its skb.
    NoMem,
    /// The device described it wrongly.
    Device(RxError),
    /// The device asked for GSO without a partial checksum, which the
    /// stack cannot segment.
    GsoWithoutCsum,
}

impl Net {
    /// The length of the next receive buffer: the moving average in
    /// mergeable mode, else a whole frame.
    fn next_buf_len(&self) -> u32 {
        match self.mode {
            RxMode::Mergeable => {
                let avg = self.rx_state.lock().avg;
                let len =
                    mergeable_buf_len(avg, self.hdr_len, self.merge_min, MERGE_MAX, MERGE_ALIGN);
                u32::try_from(len).unwrap_or(self.rx_buf_len)
            }
            RxMode::Small | RxMode::Big => self.rx_buf_len,
        }
    }

    /// Posts receive buffers until the ring is full; `false` when memory
    /// (or a mapping) ran out first.
    pub fn refill(&self) -> bool {
        let len = self.next_buf_len();
        let mut added = false;
        let mut ok = true;
        while self.rx.num_free() > 0 {
            let Some(frag) = RxFrag::alloc(len) else {
                ok = false;
                break;
            };
            let m = match MappedRxFrag::map(frag, &self.dma) {
                Ok(m) => m,
                Err(_) => {
                    ok = false;
                    break;
                }
            };
            let b = [m.buf()];
            if self.rx.add(&[], &b, Token::Rx(m)).is_err() {
                break;
            }
            added = true;
        }
        if added {
            let _ = self.rx.kick();
        }
        ok
    }

    /// The receive poll: at most `budget` packets, then the refill.
    pub(super) fn poll_rx(&self, poll: &NapiPoll<'_>, budget: u32) -> u32 {
        let mut done = 0u32;
        while done < budget {
            match self.rx.get_used() {
                Ok(Some(u)) => {
                    self.receive(poll, u.token, u.len);
                    done = done.saturating_add(1);
                }
                // Empty, or broken (the device is failed).
                Ok(None) | Err(_) => break,
            }
        }
        self.refill();
        if done < budget {
            self.complete(poll, &self.rx, done);
        }
        done
    }

    /// Takes back `n` buffers of a packet being dropped.
    fn skip(&self, n: u16) {
        for _ in 0..n {
            match self.rx.get_used() {
                Ok(Some(u)) => drop(u.token),
                Ok(None) | Err(_) => break,
            }
        }
    }

    /// One received packet, starting with the used buffer `token` of `len`
    /// bytes: delivered, or dropped and counted.
    fn receive(&self, poll: &NapiPoll<'_>, token: Token, len: u32) {
        let Token::Rx(m) = token else {
            // Not reached: the receive queue holds receive buffers only.
            self.rx_stats.error();
            return;
        };
        match self.build(poll, m.unmap(), len) {
            Ok((skb, bytes)) => {
                // CAST: a packet length fits `u64`.
                self.rx_stats.packet(bytes as u64);
                poll.gro_receive(skb);
            }
            Err(Bad::NoMem) => self.rx_stats.drop_one(),
            Err(e) => {
                self.rx_stats.drop_one();
                let n = self.rx_length_errors.fetch_add(1, Relaxed);
                // The first few are logged: enough to diagnose a device.
                if n < LOGGED_ERRORS {
                    match e {
                        Bad::Device(e) => {
                            pr_warn!("rvirtio_net: invalid packet dropped: {:?}\n", e)
                        }
                        _ => {
                            pr_warn!("rvirtio_net: GSO packet without a partial checksum dropped\n")
                        }
                    }
                }
            }
        }
    }

    /// Builds the packet whose first buffer is `frag` (`len` bytes used):
    /// the header checked, the other buffers of a mergeable packet taken
    /// (`num_buffers` checked against what is posted), the metadata
    /// validated and applied. Returns the skb and the packet's length.
    fn build(&self, poll: &NapiPoll<'_>, frag: RxFrag, len: u32) -> Result<(RxSkb, usize), Bad> {
        // CAST: a header length (at most `HDR_LEN_MAX`) fits `u32`.
        let hdr_len = self.hdr_len as u32;
        let first = len
            .checked_sub(hdr_len)
            .ok_or(Bad::Device(RxError::Length(len as usize)))?;
        let mut hb = [0u8; HDR_LEN_MAX];
        let hslice = hb
            .get_mut(..self.hdr_len)
            .ok_or(Bad::Device(RxError::Length(len as usize)))?;
        frag.read(0, hslice)
            .map_err(|_| Bad::Device(RxError::Length(len as usize)))?;
        let h = Header::decode(&hb, self.hdr_len, self.order)
            .ok_or(Bad::Device(RxError::Length(len as usize)))?;
        let nb = if self.mode == RxMode::Mergeable {
            // The buffers with the device, this one included.
            let outstanding = usize::from(self.rx_posted()).saturating_add(1);
            check_num_buffers(h.num_buffers, outstanding).map_err(Bad::Device)?
        } else {
            1
        };
        let mut merge = match Merge::new(nb, first as usize) {
            Ok(m) => m,
            Err(e) => {
                self.skip(nb.saturating_sub(1));
                return Err(Bad::Device(e));
            }
        };
        let mut skb = match self.assemble(poll, frag, hdr_len, first, &mut merge) {
            Ok(skb) => skb,
            Err(e) => {
                self.skip(merge.left());
                return Err(e);
            }
        };
        if let Err(e) = self.apply(&mut skb, &h, merge.len()) {
            skb.drop_with(DropReason::DevHdr);
            return Err(e);
        }
        if self.mode == RxMode::Mergeable {
            // CAST: at most `MAX_GSO_PACKET` (`Merge` bounds it).
            self.rx_state.lock().avg.add(merge.len() as u32);
        }
        Ok((skb, merge.len()))
    }

    /// The skb of a packet: the start of the first buffer copied, its rest
    /// and every further buffer as page fragments.
    fn assemble(
        &self,
        poll: &NapiPoll<'_>,
        frag: RxFrag,
        hdr_len: u32,
        first: u32,
        merge: &mut Merge,
    ) -> Result<RxSkb, Bad> {
        let copy = if first <= COPY_ALL { first } else { COPY_LEN };
        let mut skb = poll.alloc_skb(copy).ok_or(Bad::NoMem)?;
        // `copy <= first` and `hdr_len + first` is the used length, which
        // the ring checked against the buffer: never saturates.
        skb.put(&frag, hdr_len, copy).map_err(|_| Bad::NoMem)?;
        if first > copy {
            skb.add_frag(
                frag,
                hdr_len.saturating_add(copy),
                first.saturating_sub(copy),
            )
            .map_err(|_| Bad::NoMem)?;
        }
        while merge.left() > 0 {
            let u = match self.rx.get_used() {
                Ok(Some(u)) => u,
                // The device promised more buffers than it used.
                Ok(None) | Err(_) => return Err(Bad::Device(RxError::NumBuffers(merge.left()))),
            };
            let Token::Rx(m) = u.token else {
                return Err(Bad::Device(RxError::NumBuffers(merge.left())));
            };
            let f = m.unmap();
            merge.add(u.len as usize).map_err(Bad::Device)?;
            if u.len == 0 {
                continue;
            }
            skb.add_frag(f, 0, u.len).map_err(|_| Bad::NoMem)?;
        }
        Ok(skb)
    }

    /// Validates the header against the packet and the offloads in force
    /// (the core's [`validate_rx`]) and sets the skb's checksum state and
    /// segmentation from it.
    fn apply(&self, skb: &mut RxSkb, h: &Header, pkt_len: usize) -> Result<(), Bad> {
        let meta = validate_rx(h, pkt_len, self.rx_offloads).map_err(Bad::Device)?;
        match meta.csum {
            RxCsum::Partial { start, offset } => skb
                .set_csum_partial(start, offset)
                .map_err(|_| Bad::Device(RxError::CsumOutOfPacket))?,
            RxCsum::Unnecessary => skb.set_csum_unnecessary(),
            RxCsum::None => {}
        }
        if let Some(g) = meta.gso {
            skb.set_gso(&g).map_err(|_| Bad::GsoWithoutCsum)?;
        }
        Ok(())
    }
}
