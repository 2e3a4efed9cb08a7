// SPDX-License-Identifier: GPL-2.0

//! The netdev shim's C declarations (`rust/helpers/net.c`): its opaque
//! types, the structures it shares with Rust, and its functions.

use super::*;

/// The shim's `struct rvirtio_net` (a net_device's private area).
#[repr(C)]
pub(super) struct RawNet {
    _opaque: [u8; 0],
}

/// The shim's `struct rvirtio_napi` (a NAPI context).
#[repr(C)]
pub(super) struct RawNapi {
    _opaque: [u8; 0],
}

/// `struct sk_buff`, handled only through the shim.
#[repr(C)]
pub(super) struct RawSkb {
    _opaque: [u8; 0],
}

/// The shim's `struct rvirtio_skb_tx`: what a packet to send asks.
#[repr(C)]
#[derive(Default)]
pub(super) struct RawTxInfo {
    pub(super) len: u32,
    pub(super) headlen: u32,
    pub(super) nr_frags: u32,
    pub(super) csum_partial: u8,
    pub(super) csum_start: u16,
    pub(super) csum_offset: u16,
    pub(super) gso: u32,
    pub(super) gso_size: u16,
}

type Drv = *mut kernel::ffi::c_void;
type Int = kernel::ffi::c_int;

/// The shim's `struct rvirtio_net_cb`.
#[repr(C)]
pub(super) struct Callbacks {
    pub(super) open: unsafe extern "C" fn(Drv, *mut RawNet) -> Int,
    pub(super) stop: unsafe extern "C" fn(Drv, *mut RawNet) -> Int,
    pub(super) start_xmit: unsafe extern "C" fn(Drv, *mut RawNet, *mut RawSkb, u32, bool) -> Int,
    pub(super) set_rx_mode: unsafe extern "C" fn(Drv, *mut RawNet),
    pub(super) set_mac_address: unsafe extern "C" fn(Drv, *mut RawNet, *const u8) -> Int,
    pub(super) change_mtu: unsafe extern "C" fn(Drv, *mut RawNet, u32) -> Int,
    pub(super) get_stats64: unsafe extern "C" fn(Drv, *mut Stats),
    pub(super) vlan_rx_add_vid: unsafe extern "C" fn(Drv, *mut RawNet, u16) -> Int,
    pub(super) vlan_rx_kill_vid: unsafe extern "C" fn(Drv, *mut RawNet, u16) -> Int,
    pub(super) tx_timeout: unsafe extern "C" fn(Drv, *mut RawNet, u32),
    pub(super) poll: unsafe extern "C" fn(Drv, *mut RawNet, *mut RawNapi, u32, bool, Int) -> Int,
    pub(super) get_link: unsafe extern "C" fn(Drv, *mut Link),
    pub(super) get_rings: unsafe extern "C" fn(Drv, *mut Rings),
    pub(super) get_channels: unsafe extern "C" fn(Drv, *mut Channels),
    pub(super) stats_count: unsafe extern "C" fn(Drv) -> u32,
    pub(super) stats_name: unsafe extern "C" fn(Drv, u32, *mut u8),
    pub(super) stats_values: unsafe extern "C" fn(Drv, *mut u64, u32),
    pub(super) set_features: unsafe extern "C" fn(Drv, *mut RawNet, u32) -> Int,
    pub(super) announce: unsafe extern "C" fn(Drv, *mut RawNet),
    pub(super) set_channels: unsafe extern "C" fn(Drv, *mut RawNet, u32) -> Int,
    pub(super) set_link: unsafe extern "C" fn(Drv, *const Link) -> Int,
}

#[expect(
    improper_ctypes,
    reason = "bindgen's struct device has zero-sized padding members; only pointers cross"
)]
unsafe extern "C" {
    pub(super) fn rvirtio_net_alloc(
        parent: *mut bindings::device,
        nr_pairs: u32,
        cb: *const Callbacks,
        drv: Drv,
        version: *const kernel::ffi::c_char,
    ) -> *mut RawNet;
}

unsafe extern "C" {
    pub(super) fn rvirtio_net_abi() -> u32;
    pub(super) fn rvirtio_net_c_layout(id: u32) -> kernel::ffi::c_long;
    pub(super) fn rvirtio_net_configure(
        n: *mut RawNet,
        hw_features: u32,
        features: u32,
        min_mtu: u32,
        max_mtu: u32,
        mtu: u32,
    );
    pub(super) fn rvirtio_net_set_mac(n: *mut RawNet, mac: *const u8);
    pub(super) fn rvirtio_net_random_mac(n: *mut RawNet);
    pub(super) fn rvirtio_net_mac(n: *mut RawNet, mac: *mut u8);
    pub(super) fn rvirtio_net_set_real_num_queues(n: *mut RawNet, pairs: u32, rtnl: bool) -> Int;
    pub(super) fn rvirtio_net_online_cpus() -> u32;
    pub(super) fn rvirtio_net_set_pair_affinity(
        n: *mut RawNet,
        q: u32,
        first: u32,
        count: u32,
        irqs: *const u32,
        nr_irqs: u32,
    ) -> Int;
    pub(super) fn rvirtio_net_txq_stalled_us(n: *mut RawNet, q: u32) -> u32;
    pub(super) fn rvirtio_net_register(n: *mut RawNet) -> Int;
    pub(super) fn rvirtio_net_unregister(n: *mut RawNet);
    pub(super) fn rvirtio_net_quiesce(n: *mut RawNet);
    pub(super) fn rvirtio_net_free(n: *mut RawNet);
    pub(super) fn rvirtio_net_set_carrier(n: *mut RawNet, on: bool);
    pub(super) fn rvirtio_net_carrier_ok(n: *mut RawNet) -> bool;
    pub(super) fn rvirtio_net_mtu(n: *mut RawNet) -> u32;
    pub(super) fn rvirtio_net_rx_flags(n: *mut RawNet) -> u32;
    pub(super) fn rvirtio_net_request_announce(n: *mut RawNet);
    pub(super) fn rvirtio_net_addr_lists(
        n: *mut RawNet,
        uc: *mut u8,
        uc_max: u32,
        uc_n: *mut u32,
        mc: *mut u8,
        mc_max: u32,
        mc_n: *mut u32,
    );
    pub(super) fn rvirtio_net_napi(n: *mut RawNet, i: u32) -> *mut RawNapi;
    pub(super) fn rvirtio_napi_enable(napi: *mut RawNapi);
    pub(super) fn rvirtio_napi_disable(napi: *mut RawNapi);
    pub(super) fn rvirtio_napi_schedule_prep(napi: *mut RawNapi) -> bool;
    pub(super) fn rvirtio_napi_schedule(napi: *mut RawNapi);
    pub(super) fn rvirtio_napi_complete_done(napi: *mut RawNapi, work: Int) -> bool;
    pub(super) fn rvirtio_napi_gro_receive(napi: *mut RawNapi, skb: *mut RawSkb);
    pub(super) fn rvirtio_napi_alloc_skb(napi: *mut RawNapi, len: u32) -> *mut RawSkb;
    pub(super) fn rvirtio_napi_consume_skb(skb: *mut RawSkb, budget: Int);
    pub(super) fn rvirtio_net_txq_valid(n: *mut RawNet, q: u32) -> bool;
    pub(super) fn rvirtio_net_txq_stop(n: *mut RawNet, q: u32);
    pub(super) fn rvirtio_net_txq_wake(n: *mut RawNet, q: u32);
    pub(super) fn rvirtio_net_txq_start(n: *mut RawNet, q: u32);
    pub(super) fn rvirtio_net_txq_stopped(n: *mut RawNet, q: u32) -> bool;
    pub(super) fn rvirtio_net_txq_lock(n: *mut RawNet, q: u32) -> bool;
    pub(super) fn rvirtio_net_txq_unlock(n: *mut RawNet, q: u32);
    pub(super) fn rvirtio_net_txq_sent(n: *mut RawNet, q: u32, bytes: u32) -> bool;
    pub(super) fn rvirtio_net_txq_completed(n: *mut RawNet, q: u32, pkts: u32, bytes: u32) -> u32;
    pub(super) fn rvirtio_skb_tx_info(skb: *mut RawSkb, t: *mut RawTxInfo);
    pub(super) fn rvirtio_skb_data(skb: *mut RawSkb) -> *mut u8;
    pub(super) fn rvirtio_skb_frag(
        skb: *mut RawSkb,
        i: u32,
        addr: *mut *mut u8,
        len: *mut u32,
    ) -> Int;
    pub(super) fn rvirtio_skb_cb(skb: *mut RawSkb) -> *mut u8;
    pub(super) fn rvirtio_skb_hdr_room(skb: *mut RawSkb, len: u32) -> *mut u8;
    pub(super) fn rvirtio_skb_put_data(skb: *mut RawSkb, data: *const u8, len: u32) -> Int;
    pub(super) fn rvirtio_skb_add_frag(
        head: *mut RawSkb,
        curr: *mut *mut RawSkb,
        addr: *mut u8,
        len: u32,
        truesize: u32,
    ) -> Int;
    pub(super) fn rvirtio_skb_len(skb: *mut RawSkb) -> u32;
    pub(super) fn rvirtio_skb_set_csum_partial(skb: *mut RawSkb, start: u16, offset: u16) -> bool;
    pub(super) fn rvirtio_skb_set_csum_unnecessary(skb: *mut RawSkb);
    pub(super) fn rvirtio_skb_set_gso(skb: *mut RawSkb, gso: u32, size: u16) -> Int;
    pub(super) fn rvirtio_skb_drop(skb: *mut RawSkb, reason: u32);
    pub(super) fn rvirtio_net_alloc_frag(len: u32) -> *mut u8;
    pub(super) fn rvirtio_net_free_frag(addr: *mut u8);
    pub(super) fn rvirtio_net_frag_size(len: u32) -> u32;
}
