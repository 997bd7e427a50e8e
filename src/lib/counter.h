/* SPDX-License-Identifier: ISC */
/* counter.h -- a thread-safe counter: a mutex and the value it guards. */
#ifndef NT_COUNTER_H
#define NT_COUNTER_H

struct counter;

/* A counter starting at 0. Returns NULL and sets errno on failure. */
struct counter *counter_new(void);

/* Frees the counter; counter_free(NULL) does nothing. */
void counter_free(struct counter *c);

/* Adds delta and returns the new value, atomically with respect to others. */
long long counter_add(struct counter *c, long long delta);

/* The current value. */
long long counter_get(struct counter *c);

#endif
