/* SPDX-License-Identifier: ISC */
/* uv-echo.c -- the reference echo server a user would write on libuv, the
 * production way: one reused read buffer, uv_try_write first, and reading
 * stopped while a write is pending. For the benchmark only.
 *
 *   uv-echo [PORT]    binds 127.0.0.1:PORT (default 0), prints the port
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

struct conn {
	uv_tcp_t tcp;
	uv_write_t req;
	char *pending; /* the unsent tail while a write is in flight */
};

static char slab[65536]; /* every read lands here: no allocation per read */

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = slab;
	buf->len = sizeof(slab);
}

static void
on_close(uv_handle_t *h)
{
	struct conn *c = h->data;

	free(c->pending);
	free(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void
on_written(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	free(c->pending);
	c->pending = NULL;
	if (status < 0) {
		uv_close((uv_handle_t *)&c->tcp, on_close);
		return;
	}
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	uv_buf_t b;
	int w;

	if (nread < 0) {
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	if (nread == 0)
		return;
	b = uv_buf_init(buf->base, (unsigned)nread);
	w = uv_try_write(s, &b, 1);
	if (w == nread)
		return;
	if (w < 0 && w != UV_EAGAIN) {
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	if (w < 0)
		w = 0;
	/* The slab is reused by the next read: copy the tail, and read no
	 * more until it is written (backpressure). */
	c->pending = malloc((size_t)(nread - w));
	if (c->pending == NULL) {
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	memcpy(c->pending, buf->base + w, (size_t)(nread - w));
	b = uv_buf_init(c->pending, (unsigned)(nread - w));
	uv_read_stop(s);
	c->req.data = c;
	if (uv_write(&c->req, s, &b, 1, on_written) < 0)
		uv_close((uv_handle_t *)s, on_close);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct conn *c;

	if (status < 0)
		return;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return;
	uv_tcp_init(server->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		uv_close((uv_handle_t *)&c->tcp, on_close);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int
main(int argc, char **argv)
{
	uv_loop_t *loop = uv_default_loop();
	struct sockaddr_in addr;
	struct sockaddr_storage ss;
	int len = sizeof(ss), rc;
	uv_tcp_t server;

	uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 0, &addr);
	uv_tcp_init(loop, &server);
	if ((rc = uv_tcp_bind(&server, (struct sockaddr *)&addr, 0)) < 0 ||
	    (rc = uv_listen((uv_stream_t *)&server, 4096, on_connection)) < 0) {
		fprintf(stderr, "uv-echo: %s\n", uv_strerror(rc));
		return 1;
	}
	uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &len);
	fprintf(stderr, "uv-echo: listening on 127.0.0.1:%d\n",
		ntohs(((struct sockaddr_in *)&ss)->sin_port));
	return uv_run(loop, UV_RUN_DEFAULT);
}
