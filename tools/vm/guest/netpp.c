// SPDX-License-Identifier: GPL-2.0
/*
 * netpp: request/response and small-packet rates between two guest network
 * namespaces, for tools/bench/net (no packaged tool in the guest does a
 * TCP_RR-style ping-pong: iperf3 has none, netperf is not in Debian main).
 *
 * usage:
 *   netpp rr-server PORT            accept one TCP connection; echo every
 *                                   message of the client back, until it
 *                                   closes
 *   netpp rr ADDR PORT SECS [SIZE]  connect; send SIZE bytes (default 1),
 *                                   wait for the SIZE-byte answer, repeat
 *                                   for SECS seconds; prints
 *                                   "transactions N seconds S rate R"
 *   netpp udp-sink PORT SECS        count the datagrams arriving on PORT
 *                                   from the first one for SECS seconds;
 *                                   prints "packets N seconds S rate R"
 *   netpp udp-flood ADDR PORT SECS [SIZE]
 *                                   send SIZE-byte datagrams (default 64)
 *                                   to ADDR:PORT as fast as the stack takes
 *                                   them for SECS seconds; prints
 *                                   "packets N seconds S rate R dropped D"
 *                                   (D: sends refused with ENOBUFS or
 *                                   EAGAIN, retried)
 *
 * TCP_NODELAY on both ends, one transaction in flight: the rate is the
 * inverse of the round trip, as netperf's TCP_RR. Rates are per second of
 * CLOCK_MONOTONIC. Exits 1 with a message on any error. Built static by
 * tools/vm/mkinitramfs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAXMSG 65536

static char buf[MAXMSG];

static int die(const char *what)
{
	fprintf(stderr, "netpp: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static struct sockaddr_in addr_of(const char *ip, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_port = htons(atoi(port));
	if (ip && inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "netpp: bad address %s\n", ip);
		exit(2);
	}
	if (!ip)
		a.sin_addr.s_addr = htonl(INADDR_ANY);
	return a;
}

/* A socket of TYPE connected to IP:PORT. */
static int connected(int type, const char *ip, const char *port)
{
	struct sockaddr_in a = addr_of(ip, port);
	int s = socket(AF_INET, type, 0);

	if (s < 0)
		die("socket");
	if (connect(s, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	return s;
}

static size_t size_arg(const char *s, size_t def)
{
	long v = s ? atol(s) : (long)def;

	if (v < 1 || v > MAXMSG) {
		fprintf(stderr, "netpp: size must be 1 to %d\n", MAXMSG);
		exit(2);
	}
	return v;
}

/* Reads exactly n bytes; 0 at EOF before the first byte. */
static int read_full(int fd, char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read");
		if (r == 0) {
			if (got)
				die("short message");
			return 0;
		}
		got += r;
	}
	return 1;
}

static void write_full(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("write");
		p += w;
		n -= w;
	}
}

static void nodelay(int s)
{
	int one = 1;

	if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		die("TCP_NODELAY");
}

static int rr_server(char **argv)
{
	struct sockaddr_in a = addr_of(NULL, argv[0]);
	int one = 1, l, c;
	ssize_t r;

	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0)
		die("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1))
		die("bind/listen");
	c = accept(l, NULL, NULL);
	if (c < 0)
		die("accept");
	nodelay(c);
	/* Echo whatever arrives: the client's messages are one at a time. */
	while ((r = read(c, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read");
		write_full(c, buf, r);
	}
	return 0;
}

static int rr_client(char **argv)
{
	double secs = atof(argv[2]), t0, t;
	size_t size = size_arg(argv[3], 1);
	unsigned long n = 0;
	int s = connected(SOCK_STREAM, argv[0], argv[1]);

	nodelay(s);
	memset(buf, 'r', size);
	t0 = now();
	do {
		/* Check the clock every 16 transactions. */
		for (int i = 0; i < 16; i++) {
			write_full(s, buf, size);
			if (!read_full(s, buf, size)) {
				fprintf(stderr, "netpp: the server closed\n");
				return 1;
			}
		}
		n += 16;
		t = now();
	} while (t - t0 < secs);
	close(s);
	printf("transactions %lu seconds %.3f rate %.1f\n", n, t - t0, n / (t - t0));
	return 0;
}

static int udp_sink(char **argv)
{
	struct sockaddr_in a = addr_of(NULL, argv[0]);
	double secs = atof(argv[1]), t0 = 0, t = 0;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	int rcvbuf = 4 << 20;
	unsigned long n = 0;
	int s;

	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)))
		die("bind");
	/* Wait (without a bound) for the first datagram, then count. */
	for (;;) {
		ssize_t r = recv(s, buf, sizeof(buf), 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("recv");
		break;
	}
	/* A timeout lets the window end when the sender stops early. */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	t0 = now();
	for (;;) {
		ssize_t r = recv(s, buf, sizeof(buf), 0);

		t = now();
		if (t - t0 >= secs)
			break;
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			die("recv");
		n++;
	}
	printf("packets %lu seconds %.3f rate %.1f\n", n, t - t0, n / (t - t0));
	return 0;
}

static int udp_flood(char **argv)
{
	double secs = atof(argv[2]), t0, t;
	size_t size = size_arg(argv[3], 64);
	unsigned long n = 0, dropped = 0;
	int s = connected(SOCK_DGRAM, argv[0], argv[1]);

	memset(buf, 'u', size);
	t0 = now();
	do {
		for (int i = 0; i < 64; i++) {
			if (send(s, buf, size, 0) < 0) {
				if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR &&
				    errno != ECONNREFUSED)
					die("send");
				dropped++;
				continue;
			}
			n++;
		}
		t = now();
	} while (t - t0 < secs);
	printf("packets %lu seconds %.3f rate %.1f dropped %lu\n", n, t - t0, n / (t - t0), dropped);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "rr-server"))
		return rr_server(argv + 2);
	if (argc >= 5 && !strcmp(argv[1], "rr"))
		return rr_client(argv + 2);
	if (argc >= 4 && !strcmp(argv[1], "udp-sink"))
		return udp_sink(argv + 2);
	if (argc >= 5 && !strcmp(argv[1], "udp-flood"))
		return udp_flood(argv + 2);
	fprintf(stderr, "usage: netpp rr-server PORT | rr ADDR PORT SECS [SIZE] |\n"
			"       udp-sink PORT SECS | udp-flood ADDR PORT SECS [SIZE]\n");
	return 2;
}
