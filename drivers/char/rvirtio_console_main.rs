// SPDX-License-Identifier: GPL-2.0

//! rvirtio_console: the virtio console device (virtio 1.4 §5.3).
//!
//! Port 0 is a console: an hvc terminal (`/dev/hvcN`, the kernel console
//! with `console=hvcN`), whose window size follows the SIZE feature's
//! configuration or the RESIZE control message. With MULTIPORT the device
//! adds, names, opens and removes ports through the control queues; every
//! message is parsed and checked by the core (`virtio::console`: its
//! `Ports` state machine decides what a message may do) before the driver
//! acts on it, and a device that breaks the rules [`VIOLATION_LIMIT`] times
//! is failed. Each port is a character device `/dev/vportNpM` in the class
//! `virtio-ports` with a `name` attribute ([`port`]).
//!
//! With EMERG_WRITE, oops and panic output is written through the
//! configuration field `emerg_wr`, without the queues (`emerg`).
//!
//! Control messages are handled in a work item (making a port sleeps);
//! data queues are drained in the interrupt handler. Removal takes every
//! port's queues away and wakes its sleepers (open files get `ENODEV`)
//! before the device is reset.
//!
//! C version of this driver: `drivers/char/virtio_console.c`.

use kernel::{
    device::{Bound, Device},
    new_mutex,
    prelude::*,
    str::CString,
    sync::{aref::ARef, Arc, Mutex},
    workqueue::{self, impl_has_work, new_work, Work, WorkItem},
};

#[path = "../../rust/virtio/mod.rs"]
pub mod virtio;

#[path = "../../rust/kext/mod.rs"]
pub mod kext;

#[path = "../../rust/kvirtio/mod.rs"]
pub mod kvirtio;

#[path = "../../rust/kext/hvc.rs"]
pub mod hvc;

#[path = "../../rust/kext/chardev.rs"]
pub mod chardev;

#[path = "../../rust/kext/kmsg_dump.rs"]
pub mod kmsg_dump;

#[path = "rvirtio_console/port.rs"]
mod port;

#[path = "rvirtio_console/emerg.rs"]
mod emerg;

use kext::{
    dma::{DmaDevice, MappedBuffer},
    ida::{Ida, IdaId},
    sync::SpinLockIrq,
};
use kvirtio::{
    config::DeviceConfig,
    driver::{Driver, Setup},
    queue::{Queue, QueueSpec},
    status::DeviceStatus,
};
use port::{reclaim, send_control, Port, PortIo};
use virtio::{
    console::{
        self as proto,
        wire::{config, feature},
        Action, CtrlState, Outcome, PortState, CTRL_RX, CTRL_TX, RX_BUF_LEN,
    },
    features::{DriverFeatures, Features},
    queue::Buf,
    spec::DeviceId,
    wire::ByteOrder,
};

crate::module_virtio_driver! {
    type: RvirtioConsole,
    name: "rvirtio_console",
    authors: ["rvirtio developers"],
    description: "virtio console (hvc, multiport character devices), in Rust",
    license: "GPL",
    params: {
        force_legacy: u32 {
            default: 0,
            description: "Use the legacy interface of transitional devices (0: modern first)",
        },
    },
}

/// Protocol violations after which the device is failed.
pub const VIOLATION_LIMIT: u32 = 16;

/// hvc's output buffer per console (as the C driver: a page).
const HVC_OUTBUF: u32 = 4096;

/// The most control receive buffers posted.
const CTRL_BUFS: u16 = 64;

/// The driver.
pub struct RvirtioConsole;

/// What the interrupt handler reaches, per port.
struct Table {
    ports: KVec<Option<Arc<Port>>>,
    hvcs: KVec<Option<hvc::Registration<Port>>>,
    /// Removal began: no more work is queued.
    removed: bool,
    /// The configuration changed (SIZE without MULTIPORT).
    config_pending: bool,
}

/// Control state, in process context.
struct Ctrl {
    states: KVec<PortState>,
    state: CtrlState,
    cdevs: KVec<Option<chardev::Registration<Port>>>,
    /// The emergency writer (EMERG_WRITE), from `ready` to `remove`.
    emerg: Option<kmsg_dump::Registration<emerg::Emerg>>,
}

/// One console device.
#[pin_data]
pub struct ConsoleDev {
    queues: KVec<Arc<Queue<MappedBuffer>>>,
    dma: DmaDevice,
    order: ByteOrder,
    multiport: bool,
    size: bool,
    emerg_write: bool,
    nr_ports: u32,
    index: IdaId<'static>,
    parent: ARef<Device>,
    config: Arc<DeviceConfig>,
    status: Arc<DeviceStatus>,
    #[pin]
    table: SpinLockIrq<Table>,
    #[pin]
    ctrl: Mutex<Ctrl>,
    #[pin]
    work: Work<ConsoleDev>,
}

impl_has_work! {
    impl HasWork<Self> for ConsoleDev { self.work }
}

impl WorkItem for ConsoleDev {
    type Pointer = Arc<ConsoleDev>;

    fn run(this: Arc<ConsoleDev>) {
        this.control_work();
    }
}

fn idx(id: u32) -> usize {
    id as usize
}

impl ConsoleDev {
    fn queue(&self, q: Option<u16>) -> Option<&Arc<Queue<MappedBuffer>>> {
        self.queues.get(usize::from(q?))
    }

    fn schedule(self: &Arc<Self>) {
        let t = self.table.lock();
        if !t.removed {
            let _ = workqueue::system_long().enqueue(self.clone());
        }
    }

    fn send_ctrl(&self, msg: &[u8]) {
        if let Some(q) = self.queue(Some(CTRL_TX)) {
            if send_control(q, &self.dma, msg, GFP_KERNEL).is_err() {
                dev_warn!(self.parent, "could not send a control message\n");
            }
        }
    }

    /// Posts control receive buffers until the queue is full or
    /// [`CTRL_BUFS`] are out.
    fn fill_ctrl(&self) -> Result {
        let q = self.queue(Some(CTRL_RX)).ok_or(ENODEV)?;
        let want = core::cmp::min(q.size(), CTRL_BUFS);
        while q.size().saturating_sub(q.num_free()) < want {
            let mut buf = KVec::with_capacity(RX_BUF_LEN, GFP_KERNEL)?;
            buf.resize(RX_BUF_LEN, 0, GFP_KERNEL)?;
            self.post_ctrl(q, buf)?;
        }
        q.kick()
    }

    fn post_ctrl(&self, q: &Queue<MappedBuffer>, buf: KVec<u8>) -> Result {
        let mapped = MappedBuffer::map(&self.dma, buf, kernel::dma::DataDirection::FromDevice)
            .map_err(|(e, _)| e)?;
        // CAST: RX_BUF_LEN fits `u32`.
        let b = [Buf::new(mapped.dma_addr(), mapped.len() as u32)];
        q.add(&[], &b, mapped).map_err(|(e, _)| e)
    }

    /// Makes port `id`: its queues, receive buffers and device node.
    fn add_port(&self, ctrl: &mut Ctrl, id: u32) -> Result {
        let rx = self.queue(proto::rx_queue(id)).ok_or(EINVAL)?.clone();
        let tx = self.queue(proto::tx_queue(id)).ok_or(EINVAL)?.clone();
        let port = Port::new(
            id,
            PortIo {
                rx,
                tx,
                ctrl_tx: if self.multiport {
                    self.queue(Some(CTRL_TX)).cloned()
                } else {
                    None
                },
                dma: self.dma.clone(),
                order: self.order,
            },
        )?;
        port.fill_rx()?;
        let name = CString::try_from_fmt(fmt!("vport{}p{}", self.index.get(), id))?;
        let reg = chardev::Registration::new(&*self.parent, &name, port.clone())?;
        // The slots are empty (the state machine refuses a duplicate, and
        // a removal empties them); whatever was there is dropped outside
        // the spinlock all the same.
        let old = self
            .table
            .lock()
            .ports
            .get_mut(idx(id))
            .map(|slot| slot.replace(port.clone()));
        drop(old);
        if let Some(slot) = ctrl.cdevs.get_mut(idx(id)) {
            *slot = Some(reg);
        }
        Ok(())
    }

    /// Makes port `id` a console (an hvc terminal).
    fn make_console(&self, id: u32) -> Result {
        let port = self
            .table
            .lock()
            .ports
            .get(idx(id))
            .cloned()
            .flatten()
            .ok_or(ENODEV)?;
        port.set_console();
        let reg = hvc::Registration::new(port, HVC_OUTBUF)?;
        dev_info!(self.parent, "port {} is console hvc{}\n", id, reg.index());
        let old = self
            .table
            .lock()
            .hvcs
            .get_mut(idx(id))
            .map(|slot| slot.replace(reg));
        drop(old);
        Ok(())
    }

    fn resize(&self, id: u32, cols: u16, rows: u16) {
        if let Some(Some(h)) = self.table.lock().hvcs.get(idx(id)) {
            h.resize(cols, rows);
        }
    }

    /// Port `id`, in process context (see `queue_interrupt`).
    fn port(&self, id: u32) -> Option<Arc<Port>> {
        self.table.lock().ports.get(idx(id)).cloned().flatten()
    }

    /// Removes port `id`: no terminal callback and no open after this;
    /// open files get `ENODEV`.
    fn unplug(&self, ctrl: &mut Ctrl, id: u32) {
        let (port, hvc) = {
            let mut t = self.table.lock();
            (
                t.ports.get_mut(idx(id)).and_then(Option::take),
                t.hvcs.get_mut(idx(id)).and_then(Option::take),
            )
        };
        drop(hvc);
        if let Some(p) = port {
            p.unplug();
        }
        drop(ctrl.cdevs.get_mut(idx(id)).and_then(Option::take));
    }

    fn act(&self, ctrl: &mut Ctrl, a: Action<'_>) {
        match a {
            Action::Add(id) => {
                let ok = self.add_port(ctrl, id).is_ok();
                if !ok {
                    dev_warn!(self.parent, "could not add port {}\n", id);
                    self.unplug(ctrl, id);
                }
                self.send_ctrl(&proto::port_ready(id, ok, self.order));
            }
            Action::Remove(id) => self.unplug(ctrl, id),
            Action::Console(id) => {
                if self.make_console(id).is_ok() {
                    self.send_ctrl(&proto::port_open(id, true, self.order));
                } else {
                    dev_warn!(self.parent, "could not make port {} a console\n", id);
                }
            }
            Action::Resize { id, cols, rows } => self.resize(id, cols, rows),
            Action::HostOpen(id, open) => {
                if let Some(p) = self.port(id) {
                    p.set_host_open(open);
                }
            }
            Action::Name(id, name) => {
                let set = CString::try_from_fmt(fmt!("{}", name)).and_then(|n| {
                    match ctrl.cdevs.get(idx(id)) {
                        Some(Some(reg)) => reg.set_name(&n),
                        _ => Ok(()),
                    }
                });
                if set.is_err() {
                    dev_warn!(self.parent, "could not name port {}\n", id);
                }
            }
            Action::Ignore => {}
        }
    }

    fn control_message(&self, buf: &[u8]) {
        let mut guard = self.ctrl.lock();
        let ctrl = &mut *guard;
        match ctrl.state.handle(&mut ctrl.states, buf, self.order) {
            Outcome::Act(a) => self.act(ctrl, a),
            Outcome::Refused { err, count } => dev_warn!(
                self.parent,
                "control message refused: {:?} ({} of {})\n",
                err,
                count,
                VIOLATION_LIMIT
            ),
            Outcome::Fail(err) => {
                dev_err!(
                    self.parent,
                    "control message refused: {:?}; too many protocol violations: failing the device\n",
                    err
                );
                self.status.fail();
            }
            Outcome::Dropped => {}
        }
    }

    /// Applies the window size in the configuration (SIZE without
    /// MULTIPORT) to port 0's console; a size with no rows or columns is
    /// ignored.
    fn config_resize(&self) {
        match proto::config_size(|off| self.config.read_u16(off).ok()) {
            Ok((cols, rows)) => self.resize(0, cols, rows),
            Err(e) => dev_warn!(self.parent, "configuration size ignored: {:?}\n", e),
        }
    }

    fn control_work(self: &Arc<Self>) {
        if self.table.lock().removed {
            return;
        }
        if core::mem::take(&mut self.table.lock().config_pending) && self.size && !self.multiport {
            self.config_resize();
        }
        if !self.multiport {
            return;
        }
        let Some(q) = self.queue(Some(CTRL_RX)) else {
            return;
        };
        let drained = q.drain(|token, len| {
            let buf = token.unmap();
            let n = core::cmp::min(len as usize, buf.len());
            self.control_message(buf.get(..n).unwrap_or(&[]));
            if !self.ctrl.lock().state.failed() {
                let _ = self.post_ctrl(q, buf);
            }
        });
        let _ = q.kick();
        if let Ok(false) = drained {
            // More than a batch: the rest in another run.
            self.schedule();
        }
    }
}

/// Per-device driver data.
pub struct ConsoleData {
    dev: Arc<ConsoleDev>,
}

impl Driver for RvirtioConsole {
    const DEVICE_ID: DeviceId = DeviceId::CONSOLE;
    const NAME: &'static CStr = c"rvirtio_console";
    const FEATURES: DriverFeatures<'static> = DriverFeatures::new(
        Features::single(feature::SIZE)
            .with(feature::MULTIPORT)
            .with(feature::EMERG_WRITE),
    );
    type Data = ConsoleData;

    fn force_legacy() -> bool {
        *module_parameters::force_legacy.value() != 0
    }

    fn probe(setup: &mut Setup<'_>) -> Result<ConsoleData> {
        let multiport = setup.has_feature(feature::MULTIPORT);
        let size = setup.has_feature(feature::SIZE);
        let emerg_write = setup.has_feature(feature::EMERG_WRITE);
        let max = if multiport {
            setup.read_config(|r| r.read_u32(config::MAX_NR_PORTS))?
        } else {
            1
        };
        let nr_ports = proto::nr_ports(multiport, max, u16::MAX).map_err(|e| {
            dev_err!(setup.device(), "bad configuration: {:?}\n", e);
            EINVAL
        })?;
        let nq = proto::nr_queues(multiport, nr_ports).ok_or(EINVAL)?;
        let mut specs = KVec::with_capacity(usize::from(nq), GFP_KERNEL)?;
        for _ in 0..nq {
            specs.push(QueueSpec::new(128), GFP_KERNEL)?;
        }
        let queues = setup.find_queues::<MappedBuffer>(&specs)?;
        let n = idx(nr_ports);
        let mut ports = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut hvcs = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut states = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut cdevs = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            ports.push(None, GFP_KERNEL)?;
            hvcs.push(None, GFP_KERNEL)?;
            states.push(PortState::default(), GFP_KERNEL)?;
            cdevs.push(None, GFP_KERNEL)?;
        }
        let index = Ida::module().alloc(u32::MAX >> 1)?;
        let config = setup.device_config()?;
        let status = setup.device_status()?;
        let dev = Arc::pin_init(
            pin_init!(ConsoleDev {
                queues,
                dma: setup.dma(),
                order: ByteOrder::for_interface(setup.is_legacy()),
                multiport,
                size,
                emerg_write,
                nr_ports,
                index,
                parent: ARef::from(&**setup.device()),
                config,
                status,
                table <- crate::new_spinlock_irq!(Table {
                    ports,
                    hvcs,
                    removed: false,
                    config_pending: false,
                }),
                ctrl <- new_mutex!(Ctrl {
                    states,
                    state: CtrlState::new(VIOLATION_LIMIT),
                    cdevs,
                    emerg: None,
                }),
                work <- new_work!("rvirtio_console::ConsoleDev::work"),
            }),
            GFP_KERNEL,
        )?;
        Ok(ConsoleData { dev })
    }

    fn ready(data: &ConsoleData, _dev: &Device<Bound>) -> Result {
        let d = &data.dev;
        if d.emerg_write {
            // Oops and panic output from now on, whatever the ports do.
            match emerg::register(d.config.clone()) {
                Ok(reg) => d.ctrl.lock().emerg = Some(reg),
                Err(e) => dev_warn!(d.parent, "no emergency write: {:?}\n", e),
            }
        }
        if d.multiport {
            d.fill_ctrl()?;
            d.send_ctrl(&proto::device_ready(true, d.order));
            return Ok(());
        }
        let mut ctrl = d.ctrl.lock();
        d.add_port(&mut ctrl, 0)?;
        drop(ctrl);
        d.make_console(0)?;
        if d.size {
            d.table.lock().config_pending = true;
            d.schedule();
        }
        Ok(())
    }

    fn queue_interrupt(data: &ConsoleData, q: u16) {
        let d = &data.dev;
        let Some(queue) = d.queues.get(usize::from(q)) else {
            return;
        };
        match proto::port_of_queue(q) {
            None if q == CTRL_RX => d.schedule(),
            None => {
                reclaim(queue);
            }
            // The port is used under the table's lock, never cloned: the
            // last reference of a `Port` must not be dropped here (its
            // drop waits for an RCU grace period).
            Some((id, true)) => {
                let t = d.table.lock();
                let port = t.ports.get(idx(id)).and_then(Option::as_ref);
                let _ = queue.drain(|token, len| match port {
                    Some(p) => p.rx_done(token, len),
                    None => drop(token),
                });
                if let Some(p) = port {
                    p.rx_wake();
                }
                if let Some(Some(h)) = t.hvcs.get(idx(id)) {
                    h.poll();
                }
            }
            Some((id, false)) => {
                reclaim(queue);
                let t = d.table.lock();
                if let Some(Some(p)) = t.ports.get(idx(id)) {
                    p.tx_wake();
                }
                if let Some(Some(h)) = t.hvcs.get(idx(id)) {
                    h.kick();
                }
            }
        }
    }

    fn config_changed(data: &ConsoleData) {
        let d = &data.dev;
        if d.size && !d.multiport {
            d.table.lock().config_pending = true;
            d.schedule();
        }
    }

    fn remove(data: &ConsoleData) {
        let d = &data.dev;
        d.table.lock().removed = true;
        kext::workqueue::cancel_sync(&d.work);
        let mut ctrl = d.ctrl.lock();
        // No dump reaches the device after this.
        drop(ctrl.emerg.take());
        for id in 0..d.nr_ports {
            d.unplug(&mut ctrl, id);
        }
    }
}
