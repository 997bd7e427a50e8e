/* SPDX-License-Identifier: ISC */
/* budget.h -- what the downloads of one run share: a number of connections
 * in all, a number per host, and one byte rate. */
#ifndef NT_BUDGET_H
#define NT_BUDGET_H

/* Longest host key: "scheme://host:port". */
#define BUDGET_HOST_MAX 300

/* Zero in a field means no cap. */
struct budget_opts {
	int total;	     /* connections open at once, over all hosts */
	int per_host;	     /* connections open at once to one host */
	long long max_speed; /* bytes per second over every connection */
};

struct budget;

/* A budget, or NULL with errno set. budget_free(NULL) does nothing. Every
 * function below may be called from any thread. */
struct budget *budget_new(const struct budget_opts *o);
void budget_free(struct budget *b);

/*
 * The key connections to url are counted under: its scheme, host and
 * port, lower case, without user information ("http://a.example:80").
 * Writes it into key (size bytes); returns 0, or -EINVAL when url has no
 * host.
 */
int budget_host(const char *url, char *key, size_t size);

/*
 * Takes one connection to host. Returns 0, or -EAGAIN when the run's
 * total or that host's cap is reached (try again after a budget_put()).
 */
int budget_take(struct budget *b, const char *host);
/* Gives back a connection budget_take() gave. */
void budget_put(struct budget *b, const char *host);
/*
 * The host answered 429 or 503 to, or refused, one more connection: when
 * others are open to it, its cap becomes their number, never raised again
 * in this run, and that is returned; with none open, nothing changes and
 * -1 is returned (the refusal is the server's fault, not a cap).
 */
int budget_refused(struct budget *b, const char *host);
/* Whether a connection to host could be taken now (its cap and the
 * run's total both have room). */
int budget_host_room(struct budget *b, const char *host);
/* The host's cap now (0: none). */
int budget_host_cap(struct budget *b, const char *host);

/*
 * Demand: how many more connections the running downloads want than they
 * hold. Each download adds what it wants more and takes it back when
 * that changes or it ends (delta may be negative).
 */
void budget_want(struct budget *b, int delta);
/*
 * Whether another download should start: a connection is free that no
 * running download is waiting for and, with n > 0, one of the n hosts
 * (budget_host() keys) has room under its cap. Waits up to timeout
 * seconds for that (a budget_put() or a smaller demand wakes it);
 * returns 1 when there is room, 0 when the time ran out.
 */
int budget_wait_room(struct budget *b, const char *const *hosts, int n,
		     double timeout);

/*
 * The byte rate: whether bytes may arrive now. Returns 1 when the run has
 * no rate cap or its bucket holds tokens, else 0 with *wake set to when
 * it will (seconds, mtime_now()'s clock).
 */
int budget_may_receive(struct budget *b, double now, double *wake);
/* n bytes arrived (may take the bucket below zero). */
void budget_spend(struct budget *b, long long n);
/* Whether a rate cap is set. */
int budget_rate_capped(const struct budget *b);

#endif
