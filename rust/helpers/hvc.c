// SPDX-License-Identifier: GPL-2.0
/*
 * rvirtio hvc shim: an hvc (hypervisor virtual console) backend whose
 * operations are Rust callbacks. hvc calls its backends by terminal number
 * (vtermno), not by pointer, so the shim keeps the table from vtermno to the
 * Rust side's private pointer: entries are found under RCU, and removal
 * takes the entry out of the table and waits for a grace period before
 * hvc_remove(), so no callback reaches the private pointer after
 * rvirtio_hvc_remove() returns. The callbacks run under rcu_read_lock()
 * and must not sleep (hvc calls them with spinlocks held anyway).
 *
 * hvc_alloc() gives the terminal a console slot (hvcN) and registers the
 * kernel console when N is the one console=hvcN asked for; hvc_remove()
 * clears the slot. hvc_instantiate() is not offered: it fills a console slot
 * that nothing clears, so a module that used it would leave the console
 * calling into its unloaded text.
 *
 * Included by the helpers.c of modules that provide an hvc backend (build
 * it with -I$(srctree)/drivers/tty/hvc); the Rust side is rust/kext/hvc.rs,
 * which checks the callback table's layout with rvirtio_hvc_c_layout().
 */
#include <linux/err.h>
#include <linux/idr.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/stddef.h>
#include <hvc_console.h>

/* Bump on any change of the functions or structures below (kext::hvc::SHIM_ABI). */
#define RVIRTIO_HVC_SHIM_ABI 2

/* The hangup notifier's events (kext::hvc::Event). */
#define RVIRTIO_HVC_OPEN 0
#define RVIRTIO_HVC_CLOSE 1
#define RVIRTIO_HVC_HANGUP 2

unsigned int rvirtio_hvc_abi(void);
unsigned int rvirtio_hvc_abi(void)
{
	return RVIRTIO_HVC_SHIM_ABI;
}

struct rvirtio_hvc_cb {
	/* hv_ops.get_chars: bytes read, 0, -EAGAIN, or -EPIPE (hangs up the tty). */
	long (*get_chars)(void *priv, u8 *buf, size_t count);
	/* hv_ops.put_chars: bytes taken, or -errno. */
	long (*put_chars)(void *priv, const u8 *buf, size_t count);
	/* The tty was opened, closed or hung up (RVIRTIO_HVC_*). */
	void (*notify)(void *priv, u32 event);
};

struct rvirtio_hvc {
	struct list_head node; /* rvirtio_hvcs, RCU */
	u32 vtermno;
	void *priv;
	const struct rvirtio_hvc_cb *cb;
	struct hvc_struct *hp;
};

static LIST_HEAD(rvirtio_hvcs);
static DEFINE_SPINLOCK(rvirtio_hvcs_lock);
/* vtermno 0 is the early console's (hvc_instantiate) in the C drivers. */
static DEFINE_IDA(rvirtio_hvc_vtermnos);

/* Under rcu_read_lock(). */
static struct rvirtio_hvc *rvirtio_hvc_find(u32 vtermno)
{
	struct rvirtio_hvc *h;

	list_for_each_entry_rcu(h, &rvirtio_hvcs, node)
		if (h->vtermno == vtermno)
			return h;
	return NULL;
}

static ssize_t rvirtio_hvc_get_chars(u32 vtermno, u8 *buf, size_t count)
{
	struct rvirtio_hvc *h;
	ssize_t r = -EPIPE;

	rcu_read_lock();
	h = rvirtio_hvc_find(vtermno);
	if (h)
		r = h->cb->get_chars(h->priv, buf, count);
	rcu_read_unlock();
	return r;
}

static ssize_t rvirtio_hvc_put_chars(u32 vtermno, const u8 *buf, size_t count)
{
	struct rvirtio_hvc *h;
	ssize_t r = -EPIPE;

	rcu_read_lock();
	h = rvirtio_hvc_find(vtermno);
	if (h)
		r = h->cb->put_chars(h->priv, buf, count);
	rcu_read_unlock();
	return r;
}

static void rvirtio_hvc_notify(struct hvc_struct *hp, u32 event)
{
	struct rvirtio_hvc *h;

	rcu_read_lock();
	h = rvirtio_hvc_find(hp->vtermno);
	if (h)
		h->cb->notify(h->priv, event);
	rcu_read_unlock();
}

/*
 * Input is interrupt driven (the driver calls rvirtio_hvc_poll()), so khvcd
 * polls the terminal only for output while a tty is open, as virtio_console.
 */
static int rvirtio_hvc_notifier_add(struct hvc_struct *hp, int data)
{
	hp->irq_requested = 1;
	rvirtio_hvc_notify(hp, RVIRTIO_HVC_OPEN);
	return 0;
}

static void rvirtio_hvc_notifier_del(struct hvc_struct *hp, int data)
{
	hp->irq_requested = 0;
	rvirtio_hvc_notify(hp, RVIRTIO_HVC_CLOSE);
}

static void rvirtio_hvc_notifier_hangup(struct hvc_struct *hp, int data)
{
	hp->irq_requested = 0;
	rvirtio_hvc_notify(hp, RVIRTIO_HVC_HANGUP);
}

static const struct hv_ops rvirtio_hv_ops = {
	.get_chars = rvirtio_hvc_get_chars,
	.put_chars = rvirtio_hvc_put_chars,
	.notifier_add = rvirtio_hvc_notifier_add,
	.notifier_del = rvirtio_hvc_notifier_del,
	.notifier_hangup = rvirtio_hvc_notifier_hangup,
};

static void rvirtio_hvc_unlink(struct rvirtio_hvc *h)
{
	spin_lock(&rvirtio_hvcs_lock);
	list_del_rcu(&h->node);
	spin_unlock(&rvirtio_hvcs_lock);
	/* No callback runs on h->priv after this. */
	synchronize_rcu();
}

/*
 * Adds a terminal with a new vtermno; the callbacks may run before this
 * returns (a console registered by hvc_alloc() prints at once). Sleeps.
 */
int rvirtio_hvc_add(const struct rvirtio_hvc_cb *cb, void *priv, int outbuf_size,
		    struct rvirtio_hvc **out);
int rvirtio_hvc_add(const struct rvirtio_hvc_cb *cb, void *priv, int outbuf_size,
		    struct rvirtio_hvc **out)
{
	struct rvirtio_hvc *h;
	struct hvc_struct *hp;
	int id;

	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	id = ida_alloc_min(&rvirtio_hvc_vtermnos, 1, GFP_KERNEL);
	if (id < 0) {
		kfree(h);
		return id;
	}
	h->vtermno = id;
	h->priv = priv;
	h->cb = cb;
	spin_lock(&rvirtio_hvcs_lock);
	list_add_tail_rcu(&h->node, &rvirtio_hvcs);
	spin_unlock(&rvirtio_hvcs_lock);
	hp = hvc_alloc(h->vtermno, 0, &rvirtio_hv_ops, outbuf_size);
	if (IS_ERR(hp)) {
		rvirtio_hvc_unlink(h);
		ida_free(&rvirtio_hvc_vtermnos, h->vtermno);
		kfree(h);
		return PTR_ERR(hp);
	}
	h->hp = hp;
	*out = h;
	return 0;
}

/*
 * Removes the terminal: no callback runs after this returns. An open tty is
 * hung up; hvc keeps its hvc_struct until the tty lets it go. Sleeps.
 */
void rvirtio_hvc_remove(struct rvirtio_hvc *h);
void rvirtio_hvc_remove(struct rvirtio_hvc *h)
{
	rvirtio_hvc_unlink(h);
	hvc_remove(h->hp);
	ida_free(&rvirtio_hvc_vtermnos, h->vtermno);
	kfree(h);
}

/* Input may be ready: hvc reads it (get_chars) now. Any context. */
int rvirtio_hvc_poll(struct rvirtio_hvc *h);
int rvirtio_hvc_poll(struct rvirtio_hvc *h)
{
	return hvc_poll(h->hp);
}

/* Wakes khvcd (output space became free). Any context. */
void rvirtio_hvc_kick(void);
void rvirtio_hvc_kick(void)
{
	hvc_kick();
}

/* Sets the tty's window size (applied from a work item). Any context. */
void rvirtio_hvc_resize(struct rvirtio_hvc *h, u16 cols, u16 rows);
void rvirtio_hvc_resize(struct rvirtio_hvc *h, u16 cols, u16 rows)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };

	hvc_resize(h->hp, ws);
}

/*
 * The window size hvc holds for the terminal: the last resize, which hvc's
 * work item hands to an open tty (tty_do_resize: TIOCGWINSZ, SIGWINCH).
 */
void rvirtio_hvc_winsize(struct rvirtio_hvc *h, u16 *cols, u16 *rows);
void rvirtio_hvc_winsize(struct rvirtio_hvc *h, u16 *cols, u16 *rows)
{
	unsigned long flags;

	spin_lock_irqsave(&h->hp->lock, flags);
	*cols = h->hp->ws.ws_col;
	*rows = h->hp->ws.ws_row;
	spin_unlock_irqrestore(&h->hp->lock, flags);
}

/* The terminal's hvc index N (the tty is hvcN). */
int rvirtio_hvc_index(struct rvirtio_hvc *h);
int rvirtio_hvc_index(struct rvirtio_hvc *h)
{
	return h->hp->index;
}

/* The layout of struct rvirtio_hvc_cb (kext::hvc::CField). */
enum rvirtio_hvc_c_field {
	RVIRTIO_HVC_CB,
	RVIRTIO_HVC_CB_GET_CHARS,
	RVIRTIO_HVC_CB_PUT_CHARS,
	RVIRTIO_HVC_CB_NOTIFY,
	RVIRTIO_HVC_EV_OPEN,
	RVIRTIO_HVC_EV_CLOSE,
	RVIRTIO_HVC_EV_HANGUP,
};

long rvirtio_hvc_c_layout(u32 id);
long rvirtio_hvc_c_layout(u32 id)
{
	switch (id) {
	case RVIRTIO_HVC_CB:
		return sizeof(struct rvirtio_hvc_cb);
	case RVIRTIO_HVC_CB_GET_CHARS:
		return offsetof(struct rvirtio_hvc_cb, get_chars);
	case RVIRTIO_HVC_CB_PUT_CHARS:
		return offsetof(struct rvirtio_hvc_cb, put_chars);
	case RVIRTIO_HVC_CB_NOTIFY:
		return offsetof(struct rvirtio_hvc_cb, notify);
	case RVIRTIO_HVC_EV_OPEN:
		return RVIRTIO_HVC_OPEN;
	case RVIRTIO_HVC_EV_CLOSE:
		return RVIRTIO_HVC_CLOSE;
	case RVIRTIO_HVC_EV_HANGUP:
		return RVIRTIO_HVC_HANGUP;
	default:
		return -1;
	}
}
