// SPDX-License-Identifier: GPL-2.0

//! Receive: posting buffers, and the receive NAPI poll that turns used
//! buffers into packets after the core validated what the device said.

use super::*;
use crate::kext::sync::SpinLockIrq;
use crate::{
    net::{
        DropReason,
        RxFrag,
        RxSkb, //
    },
    virtio::{
        net::{
            big_pages, big_used, check_num_buffers, mergeable_buf_len, validate_rx,
            wire::{
                Header,
                HDR_LEN_MAX, //
            },
            Merge, RxCsum, RxError,
        },
        queue::Buf,
    },
};
use kernel::{
    impl_has_delayed_work, new_delayed_work,
    time::msecs_to_jiffies,
    workqueue::{
        self,
        DelayedWork,
        WorkItem, //
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
/// A page of a big-packet buffer.
const PAGE: u32 = kernel::page::PAGE_SIZE as u32;
/// Most pages of a big-packet buffer: a 64 KiB GSO packet and its header
/// in 4 KiB pages take 17 (C's `MAX_SKB_FRAGS`).
pub(super) const BIG_MAX_PAGES: usize = 18;

/// Invalid packets logged (all are counted).
const LOGGED_ERRORS: u64 = 10;
/// Invalid packets after which the device is failed: a device that keeps
/// breaking the protocol is not trusted with more traffic.
pub(super) const MAX_INVALID: u64 = 100;

/// Why a received packet was not delivered.
#[derive(Clone, Copy)]
enum Bad {
    /// No memory for its skb.
    NoMem,
    /// The device described it wrongly.
    Device(RxError),
    /// The device asked for GSO without a partial checksum, which the
    /// stack cannot segment.
    GsoWithoutCsum,
}

/// The pages of a big-packet receive buffer for the negotiated features
/// and the MTU: the ring's indirect table size. `EINVAL` past
/// [`BIG_MAX_PAGES`].
pub fn rx_indirect(negotiated: Features, mtu: u16) -> Result<u16> {
    let hdr_len = vnet::header_len(negotiated);
    let len = vnet::rx_buf_len(RxMode::Big, hdr_len, mtu, vnet::guest_gso(negotiated));
    let len = u32::try_from(len).map_err(|_| EINVAL)?;
    u16::try_from(Refill::pages_for(len)?).map_err(|_| EINVAL)
}

/// The receive ring's refill: from the receive poll, and when memory
/// ran out with the ring empty (no interrupt will come to retry), from a
/// delayed work item that tries again until it succeeds or the device goes
/// (C's `refill_work`).
#[pin_data]
pub(crate) struct Refill {
    rx: Arc<Queue<Token>>,
    dma: DmaDevice,
    mode: RxMode,
    hdr_len: usize,
    /// Buffer length in small and big mode.
    buf_len: u32,
    /// Pages of a buffer in big mode.
    pages: usize,
    /// Mergeable buffers: the least data length.
    merge_min: usize,
    /// Average packet length, for mergeable buffer sizes.
    #[pin]
    avg: SpinLockIrq<PktLenAvg>,
    #[pin]
    work: DelayedWork<Refill>,
    /// The device is going: no more retries.
    stopped: Atomic<bool>,
}

impl_has_delayed_work! {
    impl HasDelayedWork<Self> for Refill { self.work }
}

impl WorkItem for Refill {
    type Pointer = Arc<Refill>;

    fn run(this: Arc<Refill>) {
        this.fill_or_retry();
    }
}

/// Milliseconds between refill attempts when memory ran out.
const REFILL_RETRY_MS: u32 = 100;

impl Refill {
    /// The refill of `rx` for these buffer parameters.
    pub(crate) fn new(
        rx: Arc<Queue<Token>>,
        dma: DmaDevice,
        mode: RxMode,
        hdr_len: usize,
        buf_len: u32,
        merge_min: usize,
    ) -> Result<Arc<Self>> {
        let pages = Self::pages_for(buf_len)?;
        Arc::pin_init(
            pin_init!(Self {
                rx,
                dma,
                mode,
                hdr_len,
                buf_len,
                pages,
                merge_min,
                avg <- crate::new_spinlock_irq!(PktLenAvg::default()),
                work <- new_delayed_work!("rvirtio_net::refill"),
                stopped: Atomic::new(false),
            }),
            GFP_KERNEL,
        )
    }

    /// The pages of a big-packet buffer of `buf_len` bytes; `EINVAL`
    /// past [`BIG_MAX_PAGES`].
    pub(crate) fn pages_for(buf_len: u32) -> Result<usize> {
        // CAST: `u32` fits `usize`.
        let n = big_pages(buf_len as usize, PAGE as usize);
        if n > BIG_MAX_PAGES {
            return Err(EINVAL);
        }
        Ok(n)
    }

    /// Pages of a big-packet buffer.
    pub(super) fn pages(&self) -> usize {
        self.pages
    }

    /// Accounts a received packet's length (mergeable buffer sizing).
    pub(crate) fn account(&self, len: u32) {
        self.avg.lock().add(len);
    }

    /// The length of the next receive buffer: the moving average in
    /// mergeable mode, else a whole frame.
    fn next_buf_len(&self) -> u32 {
        match self.mode {
            RxMode::Mergeable => {
                let avg = *self.avg.lock();
                let len =
                    mergeable_buf_len(avg, self.hdr_len, self.merge_min, MERGE_MAX, MERGE_ALIGN);
                u32::try_from(len).unwrap_or(self.buf_len)
            }
            RxMode::Small | RxMode::Big => self.buf_len,
        }
    }

    /// One mapped receive fragment of `len` bytes; `None` without memory
    /// (or a mapping).
    fn frag(&self, len: u32) -> Option<MappedRxFrag> {
        MappedRxFrag::map(RxFrag::alloc(len)?, &self.dma).ok()
    }

    /// A big-packet buffer: [`Self::pages`] mapped pages, one
    /// device-writable element each (C's `add_recvbuf_big`).
    fn big_buffer(&self) -> Option<KVec<MappedRxFrag>> {
        let mut v = KVec::with_capacity(self.pages, GFP_ATOMIC).ok()?;
        for _ in 0..self.pages {
            v.push(self.frag(PAGE)?, GFP_ATOMIC).ok()?;
        }
        Some(v)
    }

    /// Posts receive buffers until the ring is full; `false` when memory
    /// (or a mapping) ran out first.
    pub(crate) fn fill(&self) -> bool {
        let len = self.next_buf_len();
        let mut added = false;
        let mut ok = true;
        while self.rx.num_free() > 0 {
            let r = if self.mode == RxMode::Big {
                let Some(pages) = self.big_buffer() else {
                    ok = false;
                    break;
                };
                let mut b = [Buf::new(0, 0); BIG_MAX_PAGES];
                for (b, m) in b.iter_mut().zip(pages.iter()) {
                    *b = m.buf();
                }
                let b = b.get(..pages.len()).unwrap_or(&[]);
                // Without indirect descriptors a buffer takes a
                // descriptor per page: the ring may be full before
                // `num_free` is 0 (the pages are freed).
                self.rx.add(&[], b, Token::RxBig(pages)).map_err(|_| ())
            } else {
                let Some(m) = self.frag(len) else {
                    ok = false;
                    break;
                };
                let b = [m.buf()];
                self.rx.add(&[], &b, Token::Rx(m)).map_err(|_| ())
            };
            if r.is_err() {
                break;
            }
            added = true;
        }
        if added {
            let _ = self.rx.kick();
        }
        ok
    }

    /// Fills the ring; when memory ran out and the device holds no buffer
    /// (so no receive interrupt will come), tries again later.
    pub(crate) fn fill_or_retry(self: &Arc<Self>) {
        if self.fill() || self.rx.num_free() < self.rx.size() || self.stopped.load(Relaxed) {
            return;
        }
        let _ =
            workqueue::system().enqueue_delayed(self.clone(), msecs_to_jiffies(REFILL_RETRY_MS));
    }

    /// No more retries: the device is going. Waits for a running one.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Relaxed);
        crate::kext::workqueue::cancel_delayed_sync(&self.work);
    }
}

impl Net {
    /// The receive poll: at most `budget` packets, then the refill.
    pub(super) fn poll_rx(&self, poll: &NapiPoll<'_>, budget: u32) -> u32 {
        let mut done = 0u32;
        if self.failed.load(Relaxed) {
            // Failed: nothing more is received, and the queue's interrupts
            // stay off; the poll still ends (a poll that did less than
            // its budget and did not complete would stay scheduled, and
            // disabling NAPI would wait for it for good).
            poll.complete_done(0);
            return 0;
        }
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
        self.refill.fill_or_retry();
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
        let r = match token {
            Token::Rx(m) => self.build(poll, m.unmap(), len),
            Token::RxBig(pages) => self.build_big(poll, pages, len),
            _ => {
                // Not reached: the receive queue holds receive buffers only.
                self.rx_stats.error();
                return;
            }
        };
        match r {
            Ok((skb, bytes)) => {
                // CAST: a packet length fits `u64`.
                self.rx_stats.packet(bytes as u64);
                poll.gro_receive(skb);
            }
            Err(Bad::NoMem) => self.rx_stats.drop_one(),
            Err(e) => {
                self.rx_stats.drop_one();
                let n = self.rx_length_errors.fetch_add(1, Relaxed);
                if n.saturating_add(1) == MAX_INVALID {
                    self.fail();
                }
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
        let h = self.header(&frag, len)?;
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
            self.refill.account(merge.len() as u32);
        }
        Ok((skb, merge.len()))
    }

    /// The virtio-net header at the start of a used buffer of `len`
    /// bytes.
    fn header(&self, frag: &RxFrag, len: u32) -> Result<Header, Bad> {
        let bad = Bad::Device(RxError::Length(len as usize));
        let mut hb = [0u8; HDR_LEN_MAX];
        let hslice = hb.get_mut(..self.hdr_len).ok_or(bad)?;
        frag.read(0, hslice).map_err(|_| bad)?;
        Header::decode(&hb, self.hdr_len, self.order).ok_or(bad)
    }

    /// Builds the packet of a used big-packet buffer (C's `receive_big`):
    /// the used length checked against the pages posted, the header read
    /// from the first page, the packet's start copied and the rest of it
    /// taken as page fragments; the pages it does not reach are freed.
    fn build_big(
        &self,
        poll: &NapiPoll<'_>,
        pages: KVec<MappedRxFrag>,
        len: u32,
    ) -> Result<(RxSkb, usize), Bad> {
        // Unmapped, in order: the first holds the header.
        let mut frags = pages.into_iter().map(MappedRxFrag::unmap);
        let first_frag = frags.next().ok_or(Bad::Device(RxError::Length(0)))?;
        let used = big_used(
            len as usize,
            self.hdr_len,
            PAGE as usize,
            self.refill.pages(),
        )
        .map_err(Bad::Device)?;
        let h = self.header(&first_frag, len)?;
        // CAST: `big_used` bounds both by the posted pages (< 4 GiB).
        let (first, mut rest) = (used.first as u32, used.rest as u32);
        // CAST: a header length (at most `HDR_LEN_MAX`) fits `u32`.
        let mut skb = self.head(poll, first_frag, self.hdr_len as u32, first)?;
        for f in frags {
            if rest == 0 {
                break;
            }
            let n = rest.min(PAGE);
            skb.add_frag(f, 0, n).map_err(|_| Bad::NoMem)?;
            rest = rest.saturating_sub(n);
        }
        let pkt_len = used.first.saturating_add(used.rest);
        if let Err(e) = self.apply(&mut skb, &h, pkt_len) {
            skb.drop_with(DropReason::DevHdr);
            return Err(e);
        }
        Ok((skb, pkt_len))
    }

    /// An skb of a packet's first buffer: its start (`copy` bytes, after
    /// the header) copied, its rest (up to `first` bytes) taken as a page
    /// fragment.
    fn head(
        &self,
        poll: &NapiPoll<'_>,
        frag: RxFrag,
        hdr_len: u32,
        first: u32,
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
        Ok(skb)
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
        let mut skb = self.head(poll, frag, hdr_len, first)?;
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
