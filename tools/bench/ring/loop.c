// SPDX-License-Identifier: GPL-2.0
/*
 * Single-threaded driver for the guest/host API of the kernel's
 * tools/virtio/ringtest (main.h). Linked either with the C reference
 * (virtio_ring_0_9.c) or with the rvirtio split ring (librvirtio_ring_bench.a
 * plus virtio_ring_0_9.c with its guest functions renamed), it runs the
 * same deterministic workload for both: per round the guest adds a batch
 * of buffers and kicks, the host (always the C code) consumes them and
 * signals, the guest reaps them and re-enables callbacks. One thread means
 * the numbers measure instructions and latency of the ring code itself,
 * not cache-line transfers between CPUs (the ringtest main.c run does that).
 *
 * Usage: loop [-n buffers] [-b batch] [-d]
 *   -d  also call disable_call() at the start of each round.
 */
#define _GNU_SOURCE
#include "main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What main.c provides to the ring code. */
int param;
bool do_exit;   /* no simulated VM exit cost */
bool do_sleep;
bool do_relax;
unsigned ring_size = 256;

static unsigned long kicks, calls;

void kick(void) { kicks++; }
void call(void) { calls++; }
void wait_for_kick(void) { }
void wait_for_call(void) { }

#ifndef IMPL
#define IMPL "unknown"
#endif

static char bufs[256][64];

int main(int argc, char **argv)
{
	long total = 1000000, started = 0, completed = 0;
	int batch = 32, use_disable = 0, o;
	unsigned len;
	void *buf, *d;
	unsigned long sum = 0;
	struct timespec t0, t1;

	while ((o = getopt(argc, argv, "n:b:d")) != -1) {
		switch (o) {
		case 'n': total = atol(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 'd': use_disable = 1; break;
		default:
			fprintf(stderr, "usage: %s [-n buffers] [-b batch] [-d]\n", argv[0]);
			return 2;
		}
	}
	if (total <= 0 || batch <= 0 || batch > (int)ring_size)
		return 2;

	alloc_ring();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (completed < total) {
		if (use_disable)
			disable_call();
		for (int b = 0; b < batch && started < total; b++) {
			if (add_inbuf(64, bufs[started & 255], (void *)(started + 1)))
				break;
			started++;
		}
		kick_available();

		/* Host: consume everything, signalling as event idx says. */
		disable_kick();
		while (use_buf(&len, &buf))
			call_used();
		if (avail_empty())
			enable_kick();

		/* Guest: reap in order, then re-arm callbacks. */
		while ((d = get_buf(&len, &buf))) {
			completed++;
			if ((long)d != completed || len != 63 || buf != bufs[(completed - 1) & 255]) {
				fprintf(stderr, "%s: bad completion %ld: data %p len %u\n",
					IMPL, completed, d, len);
				return 1;
			}
			sum += (unsigned long)d;
		}
		/* enable_call() returns used_empty(); calling it directly keeps
		 * the callgrind toggles un-nested. */
		if (!enable_call()) {
			fprintf(stderr, "%s: buffers pending after reap\n", IMPL);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("impl=%s buffers=%ld batch=%d ns_per_buf=%.2f kicks=%lu calls=%lu sum=%lu\n",
	       IMPL, total, batch, ns / total, kicks, calls, sum);
	return 0;
}
