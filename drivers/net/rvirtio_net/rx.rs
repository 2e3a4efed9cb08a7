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
    virtio::net::{
        check_num_buffers, mergeable_buf_len, validate_rx,
        wire::{
            Header,
            HDR_LEN_MAX, //
        },
        Merge, RxCsum, RxError,
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

/// Invalid packets logged (all are counted).
const LOGGED_ERRORS: u64 = 10;
/// Invalid packets after which the device is failed: a device that keeps
/// breaking the protocol is not trusted with more traffic.
pub(super) const MAX_INVALID: u64 = 100;

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
    /// Buffer length in small mode.
    buf_len: u32,
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
        Arc::pin_init(
            pin_init!(Self {
                rx,
                dma,
                mode,
                hdr_len,
                buf_len,
                merge_min,
                avg <- crate::new_spinlock_irq!(PktLenAvg::default()),
                work <- new_delayed_work!("rvirtio_net::refill"),
                stopped: Atomic::new(false),
            }),
            GFP_KERNEL,
        )
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

    /// Posts receive buffers until the ring is full; `false` when memory
    /// (or a mapping) ran out first.
    pub(crate) fn fill(&self) -> bool {
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
            self.refill.account(merge.len() as u32);
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
