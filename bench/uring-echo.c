/* SPDX-License-Identifier: ISC */
/* uring-echo.c -- the least an io_uring echo server does per message: the
 * floor under the event loop's uring backend, for the benchmark only. One
 * ring (SINGLE_ISSUER, DEFER_TASKRUN, its own descriptor registered);
 * multishot accept straight into the ring's file table, so every receive
 * and send names a slot; a multishot receive per connection over one
 * buffer ring; each echo sent out of its receive buffer, which goes back
 * to the ring as the send completes. No event-loop layer, no callbacks, no
 * timeouts, no state per connection but a generation count.
 *
 *   uring-echo [PORT]    binds 127.0.0.1:PORT (default 0), prints the port
 */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define NBUFS 512 /* a power of 2 */
#define BUFSZ 16384
#define BGID  1

/* user_data: the operation, the slot, its generation, the buffer and how
 * far into it a send has gone. */
enum { OP_CLOSE, OP_ACCEPT, OP_RECV, OP_SEND };
#define UD(op, slot, gen, bid, off)                                            \
	((unsigned long long)(op) | (unsigned long long)(slot) << 2 |          \
	 (unsigned long long)(gen) << 18 | (unsigned long long)(bid) << 26 |   \
	 (unsigned long long)(off) << 42)
#define UD_OP(u)   ((unsigned)((u)&3))
#define UD_SLOT(u) ((unsigned)((u) >> 2 & 0xffff))
#define UD_GEN(u)  ((unsigned)((u) >> 18 & 0xff))
#define UD_BID(u)  ((unsigned)((u) >> 26 & 0xffff))
#define UD_OFF(u)  ((unsigned)((u) >> 42 & 0xffff))

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static unsigned lens[NBUFS];
static unsigned char *gens; /* by slot: bumped as a connection closes */
static unsigned short *dry; /* slots whose receive ended for want of a buffer */
static unsigned ndry, nslots, returned;
static int lfd;

static struct io_uring_sqe *
sqe_get(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (sqe == NULL) {
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
	}
	if (sqe == NULL) {
		fprintf(stderr, "uring-echo: submission queue full\n");
		exit(1);
	}
	return sqe;
}

static void
arm_accept(void)
{
	struct io_uring_sqe *sqe = sqe_get();

	io_uring_prep_multishot_accept_direct(sqe, lfd, NULL, NULL, 0);
	io_uring_sqe_set_data64(sqe, UD(OP_ACCEPT, 0, 0, 0, 0));
}

static void
arm_recv(unsigned slot)
{
	struct io_uring_sqe *sqe = sqe_get();

	io_uring_prep_recv_multishot(sqe, (int)slot, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, UD(OP_RECV, slot, gens[slot], 0, 0));
}

static void
send_from(unsigned slot, unsigned bid, unsigned off)
{
	struct io_uring_sqe *sqe = sqe_get();

	io_uring_prep_send(sqe, (int)slot, bufs + (size_t)bid * BUFSZ + off,
			   lens[bid] - off, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, UD(OP_SEND, slot, gens[slot], bid, off));
}

static void
give_back(unsigned bid)
{
	io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ,
			      (unsigned short)bid,
			      io_uring_buf_ring_mask(NBUFS), (int)returned++);
}

static void
close_slot(unsigned slot)
{
	struct io_uring_sqe *sqe = sqe_get();

	gens[slot]++;
	io_uring_prep_close_direct(sqe, slot);
	io_uring_sqe_set_data64(sqe, UD(OP_CLOSE, 0, 0, 0, 0));
}

static void
handle(const struct io_uring_cqe *cqe)
{
	unsigned long long u = cqe->user_data;
	unsigned slot = UD_SLOT(u), bid;
	int more = (cqe->flags & IORING_CQE_F_MORE) != 0;

	switch (UD_OP(u)) {
	case OP_ACCEPT:
		if (cqe->res >= 0 && (unsigned)cqe->res < nslots)
			arm_recv((unsigned)cqe->res);
		if (!more)
			arm_accept();
		break;
	case OP_RECV:
		if (cqe->res > 0) {
			bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
			lens[bid] = (unsigned)cqe->res;
			send_from(slot, bid, 0);
			if (!more)
				arm_recv(slot);
		} else if (cqe->res == -ENOBUFS) {
			dry[ndry++] = (unsigned short)slot;
		} else if (!more) {
			close_slot(slot);
		}
		break;
	case OP_SEND:
		bid = UD_BID(u);
		if (cqe->res > 0 &&
		    UD_OFF(u) + (unsigned)cqe->res < lens[bid] &&
		    UD_GEN(u) == gens[slot])
			send_from(slot, bid, UD_OFF(u) + (unsigned)cqe->res);
		else
			give_back(bid);
		break;
	default:
		break;
	}
}

int
main(int argc, char **argv)
{
	struct io_uring_params p;
	struct io_uring_buf_reg reg;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct rlimit rl;
	struct io_uring_cqe *cqe;
	unsigned head, n, i;
	int one = 1, rc;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	nslots = rl.rlim_cur > 65535 ? 65535 : (unsigned)rl.rlim_cur;
	if ((gens = calloc(nslots, 1)) == NULL ||
	    (dry = calloc(nslots, sizeof(*dry))) == NULL)
		return 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)(argc > 1 ? atoi(argv[1]) : 0));
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    /* Accepted sockets inherit it: no system call a connection. */
	    setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) < 0) {
		perror("uring-echo: listen");
		return 1;
	}

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_CQSIZE;
	p.cq_entries = 8192;
	if ((rc = io_uring_queue_init_params(1024, &ring, &p)) < 0 ||
	    (rc = io_uring_register_files_sparse(&ring, nslots)) < 0) {
		fprintf(stderr, "uring-echo: io_uring: %s\n", strerror(-rc));
		return 1;
	}
	(void)io_uring_register_ring_fd(&ring);

	br = mmap(NULL, NBUFS * sizeof(struct io_uring_buf),
		  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bufs = mmap(NULL, (size_t)NBUFS * BUFSZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED || bufs == MAP_FAILED)
		return 1;
	io_uring_buf_ring_init(br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)br;
	reg.ring_entries = NBUFS;
	reg.bgid = BGID;
	if ((rc = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) {
		fprintf(stderr, "uring-echo: buffer ring: %s\n", strerror(-rc));
		return 1;
	}
	for (i = 0; i < NBUFS; i++)
		give_back(i);
	io_uring_buf_ring_advance(br, (int)returned);
	returned = 0;

	arm_accept();
	fprintf(stderr, "uring-echo: listening on 127.0.0.1:%d\n",
		ntohs(sin.sin_port));
	for (;;) {
		rc = io_uring_submit_and_wait(&ring, 1);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			fprintf(stderr, "uring-echo: wait: %s\n",
				strerror(-rc));
			return 1;
		}
		n = 0;
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			handle(cqe);
			n++;
		}
		io_uring_cq_advance(&ring, n);
		if (returned > 0) {
			io_uring_buf_ring_advance(br, (int)returned);
			returned = 0;
			/* Buffers are back: receives that ran dry go again. */
			while (ndry > 0)
				arm_recv(dry[--ndry]);
		}
	}
}
