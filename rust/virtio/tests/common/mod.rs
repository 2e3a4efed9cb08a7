// SPDX-License-Identifier: GPL-2.0

//! Shared test support: the host platform over `vm-memory` guest memory, a
//! `virtio-queue` device wrapper, and a fake transport.

#![allow(dead_code, unreachable_pub, missing_docs, clippy::indexing_slicing)]

pub use rvirtio_core::host::{
    HostMemory,
    HostPlatform,
    HostRegion, //
};
use rvirtio_core::{
    features::Features,
    layout::SplitLayout,
    queue::{
        QueueOptions,
        Virtqueue, //
    },
    spec::{
        DeviceId,
        Status, //
    },
    split::SplitQueue,
    transport::{
        InterruptStatus,
        Transport,
        TransportError,
        TransportKind,
        TransportSetup, //
    },
};
use std::{
    ptr::NonNull,
    sync::{atomic::Ordering, Arc},
};
use virtio_queue::{desc::split::Descriptor as VqDesc, Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

pub type Mem = GuestMemoryMmap<()>;

/// Guest memory map used by every device test.
pub const MEM_BASE: u64 = 0x10_0000;
pub const MEM_SIZE: usize = 8 << 20;
pub const RING_ADDR: u64 = MEM_BASE;
/// Indirect table pool (1 MiB).
pub const POOL_ADDR: u64 = MEM_BASE + (2 << 20);
pub const POOL_SIZE: usize = 1 << 20;
/// Data buffers the device may write into (4 MiB).
pub const DATA_ADDR: u64 = MEM_BASE + (4 << 20);
pub const DATA_SIZE: u64 = 4 << 20;

pub fn new_mem() -> Arc<Mem> {
    Arc::new(Mem::from_ranges(&[(GuestAddress(MEM_BASE), MEM_SIZE)]).expect("guest memory"))
}

/// The driver's view of the guest memory: the host platform's memory over
/// the same bytes.
pub fn host_memory(mem: &Arc<Mem>) -> Arc<HostMemory> {
    let region = mem
        .find_region(GuestAddress(MEM_BASE))
        .expect("guest memory");
    let ptr = NonNull::new(region.as_ptr()).expect("guest memory mapping");
    // SAFETY: the mapping of `MEM_SIZE` bytes lives as long as `mem`, which
    // the `HostMemory` holds; `vm-memory` accesses it with atomic, volatile
    // or (single-threaded tests) plain accesses.
    unsafe { HostMemory::from_raw(MEM_BASE, ptr, MEM_SIZE, mem.clone()) }
}

/// Offset of `addr` in the guest memory.
pub fn mem_offset(addr: u64) -> usize {
    (addr - MEM_BASE) as usize
}

/// Platform over guest memory, with an indirect table pool of
/// `slot_descs`-descriptor tables filling `POOL_SIZE` bytes at `POOL_ADDR`.
pub fn platform(mem: Arc<HostMemory>, slot_descs: u16) -> HostPlatform {
    let slots = POOL_SIZE / (usize::from(slot_descs) * 16).max(16);
    HostPlatform::new(mem, mem_offset(POOL_ADDR), slots, slot_descs)
}

pub type TestQueue = SplitQueue<HostPlatform, u64>;

/// Builds a driver queue and a `virtio-queue` device on the same memory.
pub fn setup(size: u16, opts: QueueOptions, max_indirect: u16) -> (TestQueue, VqDevice) {
    let mem = new_mem();
    let layout = SplitLayout::modern(size).unwrap();
    let host = host_memory(&mem);
    let ring = HostRegion::new(host.clone(), mem_offset(RING_ADDR), layout.total_size());
    let q = SplitQueue::new(platform(host, max_indirect.max(1)), ring, layout, opts).unwrap();
    let dev = VqDevice::new(mem, &q, opts.event_idx, opts.start_idx);
    (q, dev)
}

/// One descriptor as the device saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenDesc {
    pub addr: u64,
    pub len: u32,
    pub writable: bool,
}

/// A chain popped by the device.
#[derive(Clone, Debug)]
pub struct SeenChain {
    pub head: u16,
    pub descs: Vec<SeenDesc>,
    pub indirect: bool,
}

impl SeenChain {
    pub fn writable_len(&self) -> u32 {
        self.descs
            .iter()
            .filter(|d| d.writable)
            .map(|d| d.len)
            .sum()
    }
}

/// rust-vmm's `virtio_queue::Queue` acting as the device.
pub struct VqDevice {
    pub mem: Arc<Mem>,
    pub queue: Queue,
    pub desc_table: u64,
}

impl VqDevice {
    pub fn new(mem: Arc<Mem>, q: &TestQueue, event_idx: bool, start: u16) -> Self {
        let cfg = q.config();
        let mut queue = Queue::new(q.size()).unwrap();
        queue.set_size(cfg.size);
        queue
            .try_set_desc_table_address(GuestAddress(cfg.desc))
            .unwrap();
        queue
            .try_set_avail_ring_address(GuestAddress(cfg.driver))
            .unwrap();
        queue
            .try_set_used_ring_address(GuestAddress(cfg.device))
            .unwrap();
        queue.set_event_idx(event_idx);
        queue.set_next_avail(start);
        queue.set_next_used(start);
        queue.set_ready(true);
        assert!(
            queue.is_valid(&*mem),
            "device rejects the queue configuration"
        );
        Self {
            mem,
            queue,
            desc_table: cfg.desc,
        }
    }

    /// Pops the next available chain.
    pub fn pop(&mut self) -> Option<SeenChain> {
        let chain = self.queue.pop_descriptor_chain(&*self.mem)?;
        let head = chain.head_index();
        let head_desc: VqDesc = self
            .mem
            .read_obj(GuestAddress(self.desc_table + u64::from(head) * 16))
            .unwrap();
        let indirect = head_desc.refers_to_indirect_table();
        let descs = chain
            .map(|d| SeenDesc {
                addr: d.addr().0,
                len: d.len(),
                writable: d.is_write_only(),
            })
            .collect();
        Some(SeenChain {
            head,
            descs,
            indirect,
        })
    }

    /// Writes `data` into the chain's writable descriptors, then marks it
    /// used with `len`.
    pub fn complete(&mut self, chain: &SeenChain, len: u32) {
        self.queue.add_used(&*self.mem, chain.head, len).unwrap();
    }

    pub fn needs_notification(&mut self) -> bool {
        self.queue.needs_notification(&*self.mem).unwrap()
    }

    pub fn enable_notification(&mut self) -> bool {
        self.queue.enable_notification(&*self.mem).unwrap()
    }

    pub fn disable_notification(&mut self) {
        self.queue.disable_notification(&*self.mem).unwrap()
    }

    /// Writes a used element directly (for malicious tests).
    pub fn raw_used(&mut self, id: u32, len: u32, idx_delta: u16) {
        let used = self.queue.used_ring();
        let next = self.queue.next_used();
        let slot = u64::from(next % self.queue.size());
        let e = used + 4 + slot * 8;
        self.mem.write_obj(id.to_le(), GuestAddress(e)).unwrap();
        self.mem
            .write_obj(len.to_le(), GuestAddress(e + 4))
            .unwrap();
        let new = next.wrapping_add(idx_delta);
        self.queue.set_next_used(new);
        self.mem
            .store(new.to_le(), GuestAddress(used + 2), Ordering::Release)
            .unwrap();
    }
}

// ---------------------------------------------------------------------
// Fake transport.

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Reset,
    WriteStatus(u8),
    ReadDeviceFeatures(u32),
    WriteDriverFeatures(u32, u32),
    ConfigRead(usize),
    ConfigWrite(usize),
    SetupQueue(u16),
    EnableQueue(u16),
    Notify(u16),
}

/// The scriptable state of a [`FakeTransport`].
pub struct FakeState {
    pub kind: TransportKind,
    pub status: u8,
    pub device_features: Features,
    pub driver_features: Features,
    /// The device refuses FEATURES_OK.
    pub reject_features_ok: bool,
    /// Status polls after reset that still read non-zero.
    pub reset_polls_nonzero: u32,
    /// The generation changes on each of the next N generation reads
    /// taken while a config read is in progress.
    pub unstable_generation: u32,
    pub generation: u32,
    pub config: Vec<u8>,
    pub max_queue: u16,
    pub ops: Vec<Op>,
    /// Legacy only: number of reads that return changing data.
    pub legacy_flaky_reads: u32,
    /// The device sets DEVICE_NEEDS_RESET when FEATURES_OK is written.
    pub needs_reset_on_features_ok: bool,
}

/// A scriptable device behind a fake transport. The run-time half of the
/// transport is `&self` and `Sync`, so the state sits behind a mutex;
/// tests reach it with [`FakeTransport::st`].
pub struct FakeTransport {
    st: std::sync::Mutex<FakeState>,
}

impl FakeTransport {
    pub fn new(kind: TransportKind, device_features: Features) -> Self {
        Self {
            st: std::sync::Mutex::new(FakeState::new(kind, device_features)),
        }
    }

    /// The device's state, for scripting and inspection.
    pub fn st(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn status(&self) -> Status {
        self.st().status()
    }

    /// Every device status value the driver wrote, in order.
    pub fn status_writes(&self) -> Vec<u8> {
        self.st()
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::WriteStatus(s) => Some(*s),
                _ => None,
            })
            .collect()
    }
}

/// A feature set of the given bit numbers.
pub fn features(bits: &[u8]) -> Features {
    bits.iter().fold(Features::EMPTY, |s, b| {
        s.with(rvirtio_core::features::Feature::new(*b))
    })
}

impl FakeState {
    pub fn new(kind: TransportKind, device_features: Features) -> Self {
        Self {
            kind,
            status: 0x7f, // garbage until reset
            device_features,
            driver_features: Features::EMPTY,
            reject_features_ok: false,
            reset_polls_nonzero: 0,
            unstable_generation: 0,
            generation: 0,
            config: (0..64u8).collect(),
            max_queue: 256,
            ops: Vec::new(),
            legacy_flaky_reads: 0,
            needs_reset_on_features_ok: false,
        }
    }

    pub fn status(&self) -> Status {
        Status::from_bits(self.status)
    }

    fn cfg(&mut self, off: usize, n: usize) -> Result<u64, TransportError> {
        self.ops.push(Op::ConfigRead(off));
        let bytes = self
            .config
            .get(off..off + n)
            .ok_or(TransportError::OutOfRange)?;
        let mut v = 0u64;
        for (i, b) in bytes.iter().enumerate() {
            v |= u64::from(*b) << (8 * i);
        }
        if self.kind.is_legacy() && self.legacy_flaky_reads > 0 {
            self.legacy_flaky_reads -= 1;
            v ^= u64::from(self.legacy_flaky_reads) + 1;
        }
        Ok(v)
    }

    fn cfg_write(&mut self, off: usize, v: u64, n: usize) -> Result<(), TransportError> {
        self.ops.push(Op::ConfigWrite(off));
        let bytes = self
            .config
            .get_mut(off..off + n)
            .ok_or(TransportError::OutOfRange)?;
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (v >> (8 * i)) as u8;
        }
        Ok(())
    }
}

impl Transport for FakeTransport {
    fn kind(&self) -> TransportKind {
        self.st().kind
    }
    fn device_id(&self) -> DeviceId {
        DeviceId::BLOCK
    }
    fn read_status(&self) -> Result<Status, TransportError> {
        let mut s = self.st();
        if s.status == 0 && s.reset_polls_nonzero > 0 {
            // Reset still in progress: report a stale value.
            s.reset_polls_nonzero -= 1;
            return Ok(Status::from_bits(0x40));
        }
        Ok(Status::from_bits(s.status))
    }
    fn write_status(&self, status: Status) -> Result<(), TransportError> {
        let mut s = self.st();
        s.ops.push(Op::WriteStatus(status.bits()));
        let mut v = status.bits();
        if v & Status::FEATURES_OK.bits() != 0 && s.reject_features_ok {
            v &= !Status::FEATURES_OK.bits();
        }
        if v & Status::FEATURES_OK.bits() != 0 && s.needs_reset_on_features_ok {
            v |= Status::DEVICE_NEEDS_RESET.bits();
        }
        s.status = v;
        Ok(())
    }
    fn reset(&self) -> Result<(), TransportError> {
        let mut s = self.st();
        s.ops.push(Op::Reset);
        s.status = 0;
        s.driver_features = Features::EMPTY;
        Ok(())
    }
    fn config_generation(&self) -> Result<u32, TransportError> {
        let mut s = self.st();
        if s.unstable_generation > 0 {
            s.unstable_generation -= 1;
            s.generation += 1;
        }
        Ok(s.generation)
    }
    fn read_config_u8(&self, offset: usize) -> Result<u8, TransportError> {
        let mut s = self.st();
        s.cfg(offset, 1).map(|v| v as u8)
    }
    fn read_config_u16(&self, offset: usize) -> Result<u16, TransportError> {
        let mut s = self.st();
        s.cfg(offset, 2).map(|v| v as u16)
    }
    fn read_config_u32(&self, offset: usize) -> Result<u32, TransportError> {
        let mut s = self.st();
        s.cfg(offset, 4).map(|v| v as u32)
    }
    fn read_config_u64(&self, offset: usize) -> Result<u64, TransportError> {
        let mut s = self.st();
        s.cfg(offset, 8)
    }
    fn write_config_u8(&self, offset: usize, value: u8) -> Result<(), TransportError> {
        let mut s = self.st();
        s.cfg_write(offset, value.into(), 1)
    }
    fn write_config_u16(&self, offset: usize, value: u16) -> Result<(), TransportError> {
        let mut s = self.st();
        s.cfg_write(offset, value.into(), 2)
    }
    fn write_config_u32(&self, offset: usize, value: u32) -> Result<(), TransportError> {
        let mut s = self.st();
        s.cfg_write(offset, value.into(), 4)
    }
    fn write_config_u64(&self, offset: usize, value: u64) -> Result<(), TransportError> {
        let mut s = self.st();
        s.cfg_write(offset, value, 8)
    }
    fn notify(
        &self,
        index: u16,
        _data: Option<rvirtio_core::queue::NotifyData>,
    ) -> Result<(), TransportError> {
        let mut s = self.st();
        s.ops.push(Op::Notify(index));
        Ok(())
    }
    fn ack_interrupt(&self) -> Result<InterruptStatus, TransportError> {
        Ok(InterruptStatus::from_bits(1))
    }
}

impl TransportSetup for FakeTransport {
    fn read_device_features(&mut self, word: u32) -> Result<u32, TransportError> {
        let mut s = self.st();
        s.ops.push(Op::ReadDeviceFeatures(word));
        Ok(s.device_features.word(word as usize))
    }
    fn write_driver_features(&mut self, word: u32, value: u32) -> Result<(), TransportError> {
        let mut s = self.st();
        s.ops.push(Op::WriteDriverFeatures(word, value));
        s.driver_features.set_word(word as usize, value);
        Ok(())
    }
    fn max_queue_size(&mut self, _index: u16) -> Result<u16, TransportError> {
        Ok(self.st().max_queue)
    }
    fn setup_queue(
        &mut self,
        index: u16,
        _config: &rvirtio_core::queue::QueueConfig,
    ) -> Result<(), TransportError> {
        let mut s = self.st();
        s.ops.push(Op::SetupQueue(index));
        Ok(())
    }
    fn enable_queue(&mut self, index: u16) -> Result<(), TransportError> {
        let mut s = self.st();
        s.ops.push(Op::EnableQueue(index));
        Ok(())
    }
    fn release_queue(&mut self, _index: u16) -> Result<(), TransportError> {
        Ok(())
    }
}
