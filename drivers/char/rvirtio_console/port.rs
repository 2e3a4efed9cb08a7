// SPDX-License-Identifier: GPL-2.0

//! One port: its receive and transmit queues, the data the device sent,
//! the host-connected state, and the two faces it shows: a character
//! device (`/dev/vportNpM`, [`chardev::Operations`]) and, for a console
//! port, an hvc terminal ([`hvc::Operations`]).
//!
//! Receive buffers are [`RX_BUF_LEN`] bytes each, posted at creation and
//! reposted once read; a used one moves to `filled` in the interrupt
//! handler (its capacity is the queue's size, so this never allocates).
//! Writes copy at most [`MAX_WRITE`] bytes per call into one buffer.
//!
//! When the port goes away (PORT_REMOVE, device removal) its queues are
//! taken from it ([`Port::unplug`]): open files keep the `Port` but get
//! `ENODEV`, and sleepers are woken.

use crate::{
    chardev::{self, mask, Fasync},
    hvc,
    kext::{dma::DmaDevice, dma::MappedBuffer, sync::SpinLockIrq},
    kvirtio::queue::Queue,
    virtio::{
        console::{port_open, RX_BUF_LEN},
        queue::Buf,
        wire::ByteOrder,
    },
};
use kernel::{
    dma::DataDirection,
    fs::File,
    new_mutex, new_poll_condvar,
    prelude::*,
    sync::{poll::PollCondVar, poll::PollTable, Arc, Mutex},
    uaccess::{UserSliceReader, UserSliceWriter},
};

/// The most bytes one write sends (as the C driver).
pub(crate) const MAX_WRITE: usize = 32 * 1024;

/// What a port needs of the device; taken away when the port goes.
pub(crate) struct PortIo {
    pub(crate) rx: Arc<Queue<MappedBuffer>>,
    pub(crate) tx: Arc<Queue<MappedBuffer>>,
    /// The control transmit queue (MULTIPORT), for PORT_OPEN.
    pub(crate) ctrl_tx: Option<Arc<Queue<MappedBuffer>>>,
    pub(crate) dma: DmaDevice,
    pub(crate) order: ByteOrder,
}

/// A receive buffer the device filled.
struct RxBuf {
    buf: KVec<u8>,
    /// Valid bytes (at most `buf.len()`).
    len: usize,
    /// Bytes already read.
    off: usize,
}

impl RxBuf {
    fn rest(&self) -> &[u8] {
        self.buf.get(self.off..self.len).unwrap_or(&[])
    }
}

struct Inner {
    io: Option<PortIo>,
    /// Used receive buffers not read yet, oldest first.
    filled: KVec<RxBuf>,
    /// The character device's reader holds a partly read buffer.
    reader_has_data: bool,
    host_open: bool,
    guest_open: bool,
    console: bool,
}

/// A port of a virtio console device.
#[pin_data]
pub(crate) struct Port {
    id: u32,
    #[pin]
    inner: SpinLockIrq<Inner>,
    /// Readers, writers and pollers wait here.
    #[pin]
    wait: PollCondVar,
    /// Serializes readers; holds the buffer being read.
    #[pin]
    reader: Mutex<Option<RxBuf>>,
    /// Serializes writers.
    #[pin]
    writer: Mutex<()>,
    fasync: Fasync,
}

/// Frees the buffers the device sent (any context).
pub(crate) fn reclaim(q: &Queue<MappedBuffer>) {
    let _ = q.drain(|b, _| drop(b));
}

/// Sends a control message on `q` (reclaiming sent ones first).
pub(crate) fn send_control(
    q: &Queue<MappedBuffer>,
    dma: &DmaDevice,
    msg: &[u8],
    flags: kernel::alloc::Flags,
) -> Result {
    reclaim(q);
    let mut buf = KVec::with_capacity(msg.len(), flags)?;
    buf.extend_from_slice(msg, flags)?;
    let mapped = MappedBuffer::map(dma, buf, DataDirection::ToDevice).map_err(|(e, _)| e)?;
    // CAST: a control message is a few bytes.
    let b = [Buf::new(mapped.dma_addr(), mapped.len() as u32)];
    q.add_and_kick(&b, &[], mapped).map_err(|(e, _)| e)
}

impl Port {
    /// A port on `io`, not yet filled ([`Port::fill_rx`]).
    pub(crate) fn new(id: u32, io: PortIo) -> Result<Arc<Self>> {
        let filled = KVec::with_capacity(usize::from(io.rx.size()), GFP_KERNEL)?;
        Arc::pin_init(
            pin_init!(Self {
                id,
                inner <- crate::new_spinlock_irq!(Inner {
                    io: Some(io),
                    filled,
                    reader_has_data: false,
                    host_open: false,
                    guest_open: false,
                    console: false,
                }),
                wait <- new_poll_condvar!("rvirtio_console::Port::wait"),
                reader <- new_mutex!(None),
                writer <- new_mutex!(()),
                fasync: Fasync::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// Posts receive buffers until the queue is full; returns how many.
    pub(crate) fn fill_rx(&self) -> Result<usize> {
        let mut added = 0usize;
        let rx = match &self.inner.lock().io {
            Some(io) => io.rx.clone(),
            None => return Err(ENODEV),
        };
        while rx.num_free() > 0 {
            let mut buf = KVec::with_capacity(RX_BUF_LEN, GFP_KERNEL)?;
            buf.resize(RX_BUF_LEN, 0, GFP_KERNEL)?;
            let inner = self.inner.lock();
            if inner.io.is_none() {
                return Err(ENODEV);
            }
            if !self.post_rx(&inner, buf) {
                break;
            }
            added = added.saturating_add(1);
        }
        rx.kick()?;
        Ok(added)
    }

    /// Posts `buf` to the receive queue without a kick; under `inner`.
    fn post_rx(&self, inner: &Inner, buf: KVec<u8>) -> bool {
        let Some(io) = &inner.io else {
            return false;
        };
        // Never more buffers in flight and filled than `filled` holds.
        if io.rx.num_free() == 0 {
            return false;
        }
        let Ok(mapped) = MappedBuffer::map(&io.dma, buf, DataDirection::FromDevice) else {
            return false;
        };
        // CAST: RX_BUF_LEN fits `u32`.
        let b = [Buf::new(mapped.dma_addr(), mapped.len() as u32)];
        io.rx.add(&[], &b, mapped).is_ok()
    }

    /// Reposts a buffer that was read, with a kick.
    fn recycle(&self, inner: &Inner, buf: KVec<u8>) {
        if self.post_rx(inner, buf) {
            if let Some(io) = &inner.io {
                let _ = io.rx.kick();
            }
        }
    }

    /// A receive buffer came back with `len` bytes (interrupt handler).
    pub(crate) fn rx_done(&self, token: MappedBuffer, len: u32) {
        let buf = token.unmap();
        let len = core::cmp::min(len as usize, buf.len());
        let mut inner = self.inner.lock();
        if inner.io.is_none() || len == 0 {
            // Gone, or an empty buffer: post it again.
            self.recycle(&inner, buf);
            return;
        }
        // Cannot fail: at most the queue's size of buffers exist.
        let _ = inner
            .filled
            .push_within_capacity(RxBuf { buf, len, off: 0 });
    }

    /// Wakes readers after receive buffers came back.
    pub(crate) fn rx_wake(&self) {
        drop(self.inner.lock());
        self.wait.notify_all();
        self.fasync.kill(true);
    }

    /// Wakes writers after transmit buffers came back.
    pub(crate) fn tx_wake(&self) {
        drop(self.inner.lock());
        self.wait.notify_all();
        self.fasync.kill(false);
    }

    /// Makes the port a console: the host side counts as open.
    pub(crate) fn set_console(&self) {
        let mut inner = self.inner.lock();
        inner.console = true;
        inner.host_open = true;
    }

    /// The host side opened or closed the port.
    pub(crate) fn set_host_open(&self, open: bool) {
        self.inner.lock().host_open = open;
        self.wait.notify_all();
        self.fasync.kill(true);
    }

    /// The port is gone: the queues are let go, sleepers woken (they get
    /// `ENODEV`), data dropped.
    pub(crate) fn unplug(&self) {
        let mut inner = self.inner.lock();
        inner.io = None;
        inner.host_open = false;
        inner.filled.clear();
        drop(inner);
        self.wait.notify_all();
        self.fasync.kill(true);
    }

    fn send_open(&self, open: bool, flags: kernel::alloc::Flags) {
        let inner = self.inner.lock();
        let Some(io) = &inner.io else {
            return;
        };
        let Some(q) = io.ctrl_tx.clone() else {
            return;
        };
        let (dma, order) = (io.dma.clone(), io.order);
        drop(inner);
        let _ = send_control(&q, &dma, &port_open(self.id, open, order), flags);
    }

    /// The transmit queue, if the port is still there.
    fn tx_queue(&self) -> Option<Arc<Queue<MappedBuffer>>> {
        self.inner.lock().io.as_ref().map(|io| io.tx.clone())
    }

    /// Sends `data` in one buffer allocated with `flags`.
    fn send(&self, tx: &Queue<MappedBuffer>, buf: KVec<u8>) -> Result {
        let inner = self.inner.lock();
        let Some(io) = &inner.io else {
            return Err(ENODEV);
        };
        let mapped =
            MappedBuffer::map(&io.dma, buf, DataDirection::ToDevice).map_err(|(e, _)| e)?;
        // CAST: at most MAX_WRITE or hvc's buffer.
        let b = [Buf::new(mapped.dma_addr(), mapped.len() as u32)];
        tx.add_and_kick(&b, &[], mapped).map_err(|(e, _)| e)
    }
}

impl chardev::Operations for Port {
    /// One opener at a time (as the C driver); console ports are opened
    /// as `/dev/hvcN`, not here.
    fn open(&self) -> Result {
        let mut inner = self.inner.lock();
        if inner.io.is_none() || inner.console {
            return Err(ENXIO);
        }
        if inner.guest_open {
            return Err(EBUSY);
        }
        inner.guest_open = true;
        drop(inner);
        self.send_open(true, GFP_KERNEL);
        Ok(())
    }

    /// Drops unread data and tells the host the guest side closed.
    fn release(&self) {
        let stale = self.reader.lock().take();
        let mut inner = self.inner.lock();
        inner.guest_open = false;
        inner.reader_has_data = false;
        if let Some(b) = stale {
            self.recycle(&inner, b.buf);
        }
        while !inner.filled.is_empty() {
            let b = inner.filled.remove(0);
            if let Ok(b) = b {
                self.recycle(&inner, b.buf);
            }
        }
        drop(inner);
        self.send_open(false, GFP_KERNEL);
    }

    fn read(&self, out: &mut UserSliceWriter, nonblock: bool) -> Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let mut cur = self.reader.lock();
        if cur.is_none() {
            let mut inner = self.inner.lock();
            loop {
                if inner.io.is_none() {
                    return Err(ENODEV);
                }
                if !inner.filled.is_empty() {
                    *cur = inner.filled.remove(0).ok();
                    inner.reader_has_data = cur.is_some();
                    break;
                }
                if !inner.host_open {
                    return Ok(0);
                }
                if nonblock {
                    return Err(EAGAIN);
                }
                if self.wait.wait_interruptible(&mut inner) {
                    return Err(ERESTARTSYS);
                }
            }
        }
        let Some(b) = (*cur).as_mut() else {
            return Err(EIO);
        };
        let src = b.rest();
        let n = core::cmp::min(src.len(), out.len());
        out.write_slice(src.get(..n).ok_or(EIO)?)?;
        // `n <= len - off`: never saturates.
        b.off = b.off.saturating_add(n);
        if b.off >= b.len {
            if let Some(done) = cur.take() {
                let mut inner = self.inner.lock();
                inner.reader_has_data = false;
                self.recycle(&inner, done.buf);
            }
        }
        Ok(n)
    }

    fn write(&self, data: &mut UserSliceReader, nonblock: bool) -> Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let _w = self.writer.lock();
        let tx = {
            let mut inner = self.inner.lock();
            loop {
                let Some(io) = &inner.io else {
                    return Err(ENODEV);
                };
                let tx = io.tx.clone();
                if inner.host_open {
                    // Reclaim what the device sent (not under the lock:
                    // the queue's interrupt may run).
                    drop(inner);
                    reclaim(&tx);
                    if tx.num_free() > 0 {
                        break tx;
                    }
                    inner = self.inner.lock();
                    if tx.num_free() > 0 {
                        continue;
                    }
                }
                if nonblock {
                    return Err(EAGAIN);
                }
                if self.wait.wait_interruptible(&mut inner) {
                    return Err(ERESTARTSYS);
                }
            }
        };
        let n = core::cmp::min(data.len(), MAX_WRITE);
        let mut buf = KVec::with_capacity(n, GFP_KERNEL)?;
        buf.resize(n, 0, GFP_KERNEL)?;
        data.read_slice(&mut buf)?;
        self.send(&tx, buf)?;
        Ok(n)
    }

    fn poll(&self, file: &File, table: &PollTable<'_>) -> u32 {
        table.register_wait(file, &self.wait);
        let inner = self.inner.lock();
        let Some(io) = &inner.io else {
            return mask::HUP | mask::ERR;
        };
        let mut m = 0;
        if !inner.filled.is_empty() || inner.reader_has_data || !inner.host_open {
            m |= mask::IN;
        }
        if inner.host_open && io.tx.num_free() > 0 {
            m |= mask::OUT;
        }
        if !inner.host_open {
            m |= mask::HUP;
        }
        m
    }

    fn fasync(&self) -> &Fasync {
        &self.fasync
    }
}

impl hvc::Operations for Port {
    fn get_chars(&self, out: &mut [u8]) -> Result<usize> {
        let mut inner = self.inner.lock();
        if inner.io.is_none() {
            return Err(EPIPE);
        }
        let Some(b) = inner.filled.first_mut() else {
            return Ok(0);
        };
        let src = b.rest();
        let n = core::cmp::min(src.len(), out.len());
        out.get_mut(..n)
            .ok_or(EIO)?
            .copy_from_slice(src.get(..n).ok_or(EIO)?);
        // `n <= len - off`: never saturates.
        b.off = b.off.saturating_add(n);
        if b.off >= b.len {
            if let Ok(done) = inner.filled.remove(0) {
                self.recycle(&inner, done.buf);
            }
        }
        Ok(n)
    }

    /// Never waits for the device: sent buffers are reclaimed here and in
    /// the interrupt handler; with the queue full, 0 (hvc keeps a tty's
    /// output and tries again; the kernel console drops it).
    fn put_chars(&self, data: &[u8]) -> Result<usize> {
        let Some(tx) = self.tx_queue() else {
            return Err(EPIPE);
        };
        reclaim(&tx);
        if tx.num_free() == 0 {
            return Ok(0);
        }
        let mut buf = KVec::with_capacity(data.len(), GFP_ATOMIC)?;
        buf.extend_from_slice(data, GFP_ATOMIC)?;
        match self.send(&tx, buf) {
            Ok(()) => Ok(data.len()),
            Err(_) => Ok(0),
        }
    }
}
