// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU TCG plugin for tools/bench/blk/count and tools/bench/net/count:
 * counts the guest instructions executed per translation block start
 * address, and writes a snapshot of the counts (OUT-N.txt: "vaddr
 * instructions executions" per line) each time the guest runs the block at
 * address "trigger" (the guest script calls sync(2), so the trigger is
 * ksys_sync). Deterministic, unlike wall
 * time under TCG on a shared machine.
 *
 * Written for the plugin API version 1 of the host's QEMU 7.2, whose
 * qemu-plugin.h Debian does not ship: the few declarations used are
 * repeated here. Counters are plain inline adds, so two vCPUs running the
 * same block at the same instant can lose a count.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

typedef uint64_t qemu_plugin_id_t;
#define EXP __attribute__((visibility("default")))
EXP int qemu_plugin_version = 1;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, vcpu_udata_cb_t cb, enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb_t cb, void *userdata);

struct rec { uint64_t vaddr; uint64_t ninsn; uint64_t count; struct rec *next; };
static struct rec *head;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t trigger;
static const char *prefix = "/tmp/tbsnap";
static int snapn;

static int cmp(const void *a, const void *b)
{
	uint64_t x = (*(struct rec **)a)->vaddr, y = (*(struct rec **)b)->vaddr;
	return x < y ? -1 : x > y;
}
static void dump(void)
{
	char name[256];
	size_t n = 0, i;
	struct rec *r;
	snprintf(name, sizeof(name), "%s-%d.txt", prefix, snapn++);
	FILE *f = fopen(name, "w");
	if (!f) return;
	for (r = head; r; r = r->next) n++;
	struct rec **a = malloc(n * sizeof(*a));
	for (i = 0, r = head; r; r = r->next) a[i++] = r;
	qsort(a, n, sizeof(*a), cmp);
	for (i = 0; i < n;) {
		uint64_t v = a[i]->vaddr, ins = 0, cnt = 0;
		for (; i < n && a[i]->vaddr == v; i++) { ins += a[i]->count * a[i]->ninsn; cnt += a[i]->count; }
		if (ins) fprintf(f, "%016lx %lu %lu\n", v, ins, cnt);
	}
	free(a);
	fclose(f);
}

static void on_trigger(unsigned int vcpu, void *u)
{
	pthread_mutex_lock(&lock);
	dump();
	pthread_mutex_unlock(&lock);
}

static void trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	struct rec *r = calloc(1, sizeof(*r));
	r->vaddr = qemu_plugin_tb_vaddr(tb);
	r->ninsn = qemu_plugin_tb_n_insns(tb);
	pthread_mutex_lock(&lock);
	r->next = head; head = r;
	pthread_mutex_unlock(&lock);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &r->count, 1);
	if (trigger && r->vaddr == trigger)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, on_trigger, QEMU_PLUGIN_CB_NO_REGS, NULL);
}

EXP int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "trigger=", 8)) trigger = strtoull(argv[i] + 8, NULL, 16);
		if (!strncmp(argv[i], "out=", 4)) prefix = strdup(argv[i] + 4);
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, trans);
	return 0;
}
