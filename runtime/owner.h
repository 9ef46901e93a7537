/*
 * owner.h — ownership you can check: which thread may touch a structure.
 *
 * A structure that only one thread may touch (an actor and its namespaces,
 * caches and statements; the registry's file; an I/O thread's libevent
 * objects) embeds a duro_owner. The thread that creates it, or that it is
 * handed to before it is used there (an actor thread at its start), records
 * itself with duro_owner_set(); every function that touches the structure
 * states the invariant with DURO_ASSERT_OWNER(). A call from any other
 * thread, or on a structure nobody owns yet, aborts (plain assert(): on in
 * every build of this project, see the top CMakeLists.txt).
 *
 *   duro_owner_set(&ns->owner);     // the actor thread, when it opens ns
 *   DURO_ASSERT_OWNER(ns->owner);   // in duro_ns_stmt(), begin, commit, ...
 *
 * A hand-over is a duro_owner_set() by the new owner after the old one has
 * stopped touching it (e.g. after pthread_create() or pthread_join()): the
 * owner field itself is not synchronized, only read by its owner.
 */
#ifndef DURO_OWNER_H
#define DURO_OWNER_H

#include <assert.h>
#include <pthread.h>

typedef struct duro_owner {
    pthread_t thread;
    int set; /* 0: nobody owns it yet (every assertion fails) */
} duro_owner;

/* The calling thread becomes the owner of o. */
static inline void duro_owner_set(duro_owner *o)
{
    o->thread = pthread_self();
    o->set = 1;
}

/* 1 if the calling thread owns o. */
static inline int duro_owner_is_self(const duro_owner *o)
{
    return o->set && pthread_equal(o->thread, pthread_self());
}

/* Asserts that the calling thread owns x (a duro_owner lvalue). */
#define DURO_ASSERT_OWNER(x) assert(duro_owner_is_self(&(x)))

#endif
