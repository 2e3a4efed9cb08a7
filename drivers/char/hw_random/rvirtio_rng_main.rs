// SPDX-License-Identifier: GPL-2.0

//! rvirtio_rng: the virtio entropy device (virtio 1.4 §5.4) as an hwrng.
//!
//! The device has one queue, `requestq`; the driver posts a device-writable
//! buffer and the device fills some or all of it with entropy. The driver
//! keeps one 512-byte buffer per device: a read takes the bytes left from
//! the last fill, or posts the buffer and, when the caller may sleep,
//! waits for the interrupt (no busy-waiting). The length the device
//! reports is honoured, including partial fills (the core checks it is no
//! larger than the buffer). Non-blocking reads never sleep and return 0
//! when nothing is ready. A waiting read sleeps at most 100 ms at a time,
//! so a device that never answers holds neither the reader nor the hwrng
//! core (see [`Rng::read`]).
//!
//! Removal (unbind, unload, surprise removal) wakes blocked readers, who
//! get `ENODEV`, before the hwrng is unregistered, so it never waits on a
//! device that will not answer.
//!
//! C version of this driver: `drivers/char/hw_random/virtio-rng.c`.

use kernel::{
    device::{Bound, Device},
    dma::DataDirection,
    new_condvar,
    prelude::*,
    str::CString,
    sync::atomic::{Atomic, Relaxed},
    sync::{Arc, CondVar, CondVarTimeoutResult, Mutex},
    time::msecs_to_jiffies,
};

#[path = "../../../rust/virtio/mod.rs"]
pub mod virtio;

#[path = "../../../rust/kext/mod.rs"]
pub mod kext;

#[path = "../../../rust/kvirtio/mod.rs"]
pub mod kvirtio;

#[path = "../../../rust/kext/hwrng.rs"]
pub mod hwrng;

use kext::{
    dma::{DmaDevice, MappedBuffer},
    sync::SpinLockIrq,
};
use kvirtio::{
    driver::{Driver, Setup},
    queue::{Queue, QueueSpec},
};
use virtio::{features::DriverFeatures, features::Features, queue::Buf, spec::DeviceId};

crate::module_virtio_driver! {
    type: RvirtioRng,
    name: "rvirtio_rng",
    authors: ["rvirtio developers"],
    description: "virtio entropy device (hwrng), in Rust",
    license: "GPL",
    params: {
        quality: u32 {
            default: 0,
            description: "Entropy per 1024 bits of output, 0..=1024 (0: the hwrng core's default)",
        },
        force_legacy: u32 {
            default: 0,
            description: "Use the legacy interface of transitional devices (0: modern first)",
        },
    },
}

/// Bytes asked of the device per request (as the C driver: eight cache
/// lines; the hwrng core reads in chunks of one or two).
const BUF_SIZE: usize = 512;

/// Longest sleep of one read, in milliseconds (see [`Rng::read`]): what a
/// non-blocking reader may wait for the hwrng core's `reading_mutex` while
/// another read waits on a silent device.
const WAIT_SLICE_MS: u32 = 100;

/// Numbers the hwrng names (`rvirtio_rng.N`).
static NEXT_INDEX: Atomic<u32> = Atomic::new(0);

/// The driver.
pub struct RvirtioRng;

/// Buffer state, shared by readers and the interrupt handler.
struct Inner {
    /// The buffer when the device does not hold it.
    buf: Option<KVec<u8>>,
    /// Valid bytes in `buf` from the last fill, and how many were read.
    avail: usize,
    idx: usize,
    /// The device was removed: readers leave.
    removed: bool,
}

/// One device's entropy source.
#[pin_data]
pub struct Rng {
    queue: Arc<Queue<MappedBuffer>>,
    /// The device, addressed as the negotiated features say.
    dma: DmaDevice,
    #[pin]
    inner: SpinLockIrq<Inner>,
    #[pin]
    filled: CondVar,
}

impl Rng {
    /// Posts the buffer to the device. Called with `inner` locked.
    fn request(&self, inner: &mut Inner) -> Result {
        let Some(buf) = inner.buf.take() else {
            // Already with the device.
            return Ok(());
        };
        let mapped = match MappedBuffer::map(&self.dma, buf, DataDirection::FromDevice) {
            Ok(m) => m,
            Err((e, buf)) => {
                inner.buf = Some(buf);
                return Err(e);
            }
        };
        // CAST: BUF_SIZE fits `u32`.
        let b = [Buf::new(mapped.dma_addr(), mapped.len() as u32)];
        if let Err((e, token)) = self.queue.add_and_kick(&[], &b, mapped) {
            inner.buf = Some(token.unmap());
            return Err(e);
        }
        Ok(())
    }

    /// A used buffer came back with `len` bytes of entropy.
    fn complete(&self, token: MappedBuffer, len: u32) {
        let buf = token.unmap();
        let mut inner = self.inner.lock();
        inner.avail = core::cmp::min(len as usize, buf.len());
        inner.idx = 0;
        inner.buf = Some(buf);
        drop(inner);
        self.filled.notify_all();
    }

    /// Wakes every reader for good.
    fn shut_down(&self) {
        self.inner.lock().removed = true;
        self.filled.notify_all();
    }
}

impl hwrng::Operations for Rng {
    /// Returns the bytes left from the last fill, or posts the buffer and,
    /// with `wait`, sleeps until it comes back, a signal, removal, or
    /// [`WAIT_SLICE_MS`] passed (then 0). The slice matters because the
    /// hwrng core calls this with its `reading_mutex` held, from readers
    /// of `/dev/hwrng` and from its own kthread (`hwrng_fillfn`), which no
    /// signal reaches: an unbounded wait on a device that never answers
    /// would hold the mutex for good, and every other reader, non-blocking
    /// ones included, would sleep on it. After a 0 the kthread sleeps 10 s
    /// without the mutex, and a blocking reader's `read()` calls again (it
    /// checks for signals in between); the buffer stays posted, so nothing
    /// the device delivers later is lost.
    fn read(&self, out: &mut [u8], wait: bool) -> Result<usize> {
        let mut left = msecs_to_jiffies(WAIT_SLICE_MS);
        let mut inner = self.inner.lock();
        loop {
            if inner.removed {
                return Err(ENODEV);
            }
            if let Some(buf) = &inner.buf {
                if inner.idx < inner.avail {
                    let src = buf.get(inner.idx..inner.avail).ok_or(EIO)?;
                    let n = core::cmp::min(src.len(), out.len());
                    out.get_mut(..n)
                        .ok_or(EIO)?
                        .copy_from_slice(src.get(..n).ok_or(EIO)?);
                    // `n <= avail - idx`: never saturates.
                    inner.idx = inner.idx.saturating_add(n);
                    return Ok(n);
                }
            }
            self.request(&mut inner)?;
            if !wait || left == 0 {
                return Ok(0);
            }
            match self.filled.wait_interruptible_timeout(&mut inner, left) {
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
                CondVarTimeoutResult::Timeout => left = 0,
                CondVarTimeoutResult::Signal { .. } => return Err(ERESTARTSYS),
            }
        }
    }
}

/// Per-device driver data.
pub struct RngData {
    rng: Arc<Rng>,
    hwrng: Pin<KBox<Mutex<Option<hwrng::Registration<Rng>>>>>,
}

impl Driver for RvirtioRng {
    const DEVICE_ID: DeviceId = DeviceId::ENTROPY;
    const NAME: &'static CStr = c"rvirtio_rng";
    const FEATURES: DriverFeatures<'static> = DriverFeatures::new(Features::EMPTY);
    type Data = RngData;

    fn force_legacy() -> bool {
        *module_parameters::force_legacy.value() != 0
    }

    fn probe(setup: &mut Setup<'_>) -> Result<RngData> {
        let mut queues = setup.find_queues::<MappedBuffer>(&[QueueSpec::default()])?;
        let queue = queues.pop().ok_or(ENODEV)?;
        let mut buf = KVec::with_capacity(BUF_SIZE, GFP_KERNEL)?;
        buf.resize(BUF_SIZE, 0, GFP_KERNEL)?;
        let rng = Arc::pin_init(
            pin_init!(Rng {
                queue,
                dma: setup.dma(),
                inner <- crate::new_spinlock_irq!(Inner {
                    buf: Some(buf),
                    avail: 0,
                    idx: 0,
                    removed: false,
                }),
                filled <- new_condvar!("rvirtio_rng::filled"),
            }),
            GFP_KERNEL,
        )?;
        Ok(RngData {
            rng,
            hwrng: KBox::pin_init(kernel::new_mutex!(None), GFP_KERNEL)?,
        })
    }

    fn ready(data: &RngData, dev: &Device<Bound>) -> Result {
        let q = *module_parameters::quality.value();
        let quality = u16::try_from(q)
            .ok()
            .filter(|q| *q <= 1024)
            .ok_or_else(|| {
                dev_err!(dev, "quality={} is out of range (0..=1024)\n", q);
                EINVAL
            })?;
        let index = NEXT_INDEX.fetch_add(1, Relaxed);
        let name = CString::try_from_fmt(fmt!("rvirtio_rng.{}", index))?;
        let reg = hwrng::Registration::new(&name, quality, data.rng.clone())?;
        *data.hwrng.lock() = Some(reg);
        dev_info!(dev, "registered hwrng rvirtio_rng.{}\n", index);
        Ok(())
    }

    fn queue_interrupt(data: &RngData, _queue: u16) {
        let rng = &data.rng;
        // A device that breaks the ring rules is failed by the queue; the
        // readers then wait on nothing, so wake them for good.
        if rng
            .queue
            .drain(|token, len| rng.complete(token, len))
            .is_err()
        {
            rng.shut_down();
        }
    }

    fn remove(data: &RngData) {
        data.rng.shut_down();
        // Unregistering waits for readers, who all leave now.
        drop(data.hwrng.lock().take());
    }
}
