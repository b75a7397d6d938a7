/* vla_threads.h - a small persistent pthread pool for vladapter.h's
 * parallel-for (vla_parallel_fn), shared by examples/, tools/ and tests/.
 *
 *   #define VLA_THREADS_IMPLEMENTATION   (in one file)
 *   #include "vla_threads.h"
 *
 *   vla_threadpool pool;
 *   vla_exec ex = {0};
 *   if (vla_threadpool_init(&pool, 4) != 0) ...;  // 3 workers + the caller
 *   vla_exec ex = {0};                              // zero the rest first:
 *   vla_threadpool_exec(&pool, &ex);               // ex.parallel, ex.n_threads
 *   vla_linear(&ex, ...);
 *   vla_threadpool_destroy(&pool);
 *
 * Contract (vla_parallel_fn): run task(arg, i) for every i in [0, n) once,
 * possibly concurrently, and return when all are done.  The calling thread
 * takes tasks too, so a pool of n threads starts n - 1 workers.  One call at a
 * time per pool, and a task must not call the pool it runs on.
 *
 * Wake-up: workers spin on the job counter for a short while (VLA_THREADS_SPIN
 * pause instructions, 4000 by default: about 0.1 ms on Zen 4 at 25 ns each)
 * before sleeping on a condition variable, so back-to-back kernels (a decoder
 * step is a few dozen of them, with short serial work in between) do not pay
 * a futex wake-up each, while an idle pool sleeps.  The caller spins the same
 * way for the last task to finish.  Define VLA_THREADS_SPIN 0 to never spin
 * (shared or battery-powered machines).
 *
 * Tasks are claimed under the mutex together with the job number (a task is
 * a large slice of a kernel, so claims are rare), so a worker that is late
 * for one job can never run a task of the next one with stale arguments.
 * Nothing is allocated: the struct is the caller's.  Needs pthreads (link
 * -pthread); uses the GCC/Clang __atomic builtins for the spin reads when the
 * compiler has them (plain volatile reads otherwise).
 */
#ifndef VLA_THREADS_H
#define VLA_THREADS_H

#include <pthread.h>
#include "../vladapter.h"

#ifndef VLA_THREADS_MAX
#define VLA_THREADS_MAX 64
#endif
#ifndef VLA_THREADS_SPIN
#define VLA_THREADS_SPIN 4000
#endif

typedef struct vla_threadpool {
    pthread_t th[VLA_THREADS_MAX];
    int n_threads;          /* workers + the caller                        */
    int n_started;          /* workers running                             */
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* a new job, or quit                          */
    pthread_cond_t done_cv; /* the last task of a job finished             */
    /* the current job (written under mu before job_id is bumped) */
    vla_task_fn task;
    void *arg;
    int n, next, done;
    volatile unsigned job_id;
    volatile int quit;
    int sleepers;           /* workers blocked on wake                     */
    int spin;               /* spin iterations before sleeping             */
} vla_threadpool;

/* Start n_threads - 1 workers (n_threads >= 1, <= VLA_THREADS_MAX).
 * Returns 0, or -1 if a thread could not be started (the pool is then
 * destroyed: nothing to clean up). */
int vla_threadpool_init(vla_threadpool *p, int n_threads);
void vla_threadpool_destroy(vla_threadpool *p);
/* The vla_parallel_fn: user is the pool. */
void vla_threadpool_parallel(void *user, vla_task_fn task, void *arg, int n);
/* Fill ex->parallel, ex->parallel_user and ex->n_threads (other fields kept). */
void vla_threadpool_exec(vla_threadpool *p, vla_exec *ex);

#endif /* VLA_THREADS_H */

#ifdef VLA_THREADS_IMPLEMENTATION
#ifndef VLA_THREADS_IMPLEMENTATION_DONE
#define VLA_THREADS_IMPLEMENTATION_DONE

#if defined(__GNUC__) || defined(__clang__)
#define VLA__TP_LOAD(v) __atomic_load_n(&(v), __ATOMIC_ACQUIRE)
#if defined(__x86_64__) || defined(__i386__)
#define VLA__TP_PAUSE() __builtin_ia32_pause()
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
#define VLA__TP_PAUSE() __asm__ __volatile__("yield" ::: "memory")
#else
#define VLA__TP_PAUSE() __asm__ __volatile__("" ::: "memory")
#endif
#else
#define VLA__TP_LOAD(v) (v)
#define VLA__TP_PAUSE() ((void)0)
#endif

/* Claim and run tasks of job `id` until none is left; 0 if the job changed. */
static void vla__tp_work(vla_threadpool *p, unsigned id) {
    for (;;) {
        vla_task_fn task;
        void *arg;
        int i;
        pthread_mutex_lock(&p->mu);
        if (p->job_id != id || p->next >= p->n) {
            pthread_mutex_unlock(&p->mu);
            return;
        }
        i = p->next++;
        task = p->task;
        arg = p->arg;
        pthread_mutex_unlock(&p->mu);
        task(arg, i);
        pthread_mutex_lock(&p->mu);
#if defined(__GNUC__) || defined(__clang__)
        if (__atomic_add_fetch(&p->done, 1, __ATOMIC_RELEASE) == p->n) pthread_cond_signal(&p->done_cv);
#else
        if (++p->done == p->n) pthread_cond_signal(&p->done_cv);
#endif
        pthread_mutex_unlock(&p->mu);
    }
}

static void *vla__tp_main(void *arg) {
    vla_threadpool *p = (vla_threadpool *)arg;
    unsigned seen;
    pthread_mutex_lock(&p->mu);
    seen = p->job_id;
    pthread_mutex_unlock(&p->mu);
    for (;;) {
        int s;
        unsigned id;
        for (s = 0; s < p->spin && VLA__TP_LOAD(p->job_id) == seen && !VLA__TP_LOAD(p->quit); s++) VLA__TP_PAUSE();
        pthread_mutex_lock(&p->mu);
        while (p->job_id == seen && !p->quit) {
            p->sleepers++;
            pthread_cond_wait(&p->wake, &p->mu);
            p->sleepers--;
        }
        if (p->quit) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        id = seen = p->job_id;
        pthread_mutex_unlock(&p->mu);
        vla__tp_work(p, id);
    }
}

int vla_threadpool_init(vla_threadpool *p, int n_threads) {
    int i;
    if (n_threads < 1) n_threads = 1;
    if (n_threads > VLA_THREADS_MAX) n_threads = VLA_THREADS_MAX;
    p->n_threads = n_threads;
    p->n_started = 0;
    p->task = NULL;
    p->arg = NULL;
    p->n = p->next = p->done = 0;
    p->job_id = 0;
    p->quit = 0;
    p->sleepers = 0;
    p->spin = VLA_THREADS_SPIN;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    for (i = 0; i < n_threads - 1; i++) {
        if (pthread_create(&p->th[i], NULL, vla__tp_main, p) != 0) {
            vla_threadpool_destroy(p);
            return -1;
        }
        p->n_started++;
    }
    return 0;
}

void vla_threadpool_destroy(vla_threadpool *p) {
    int i;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->n_started; i++) pthread_join(p->th[i], NULL);
    p->n_started = 0;
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
}

void vla_threadpool_parallel(void *user, vla_task_fn task, void *arg, int n) {
    vla_threadpool *p = (vla_threadpool *)user;
    unsigned id;
    int i;
    if (n <= 0) return;
    if (p->n_started == 0 || n == 1) {
        for (i = 0; i < n; i++) task(arg, i);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->task = task;
    p->arg = arg;
    p->n = n;
    p->next = 0;
    p->done = 0;
    id = p->job_id + 1u;
#if defined(__GNUC__) || defined(__clang__)
    __atomic_store_n(&p->job_id, id, __ATOMIC_RELEASE);
#else
    p->job_id = id;
#endif
    if (p->sleepers) pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    vla__tp_work(p, id);
    for (i = 0; i < p->spin && VLA__TP_LOAD(p->done) < n; i++) VLA__TP_PAUSE();
    pthread_mutex_lock(&p->mu);
    while (p->done < p->n) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void vla_threadpool_exec(vla_threadpool *p, vla_exec *ex) {
    ex->parallel = vla_threadpool_parallel;
    ex->parallel_user = p;
    ex->n_threads = p->n_threads;
}

#endif /* VLA_THREADS_IMPLEMENTATION_DONE */
#endif /* VLA_THREADS_IMPLEMENTATION */
