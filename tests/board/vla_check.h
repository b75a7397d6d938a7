/* vla_check.h - a very small test framework for vladapter.h test programs.
 *
 * Works the same on a hosted target (glibc, qemu-user) and on bare metal
 * (picolibc + semihosting under qemu-system): it needs only printf/vprintf
 * and a few string functions, keeps no heap, and reports through the exit
 * status of main().
 *
 *   int main(int argc, char **argv) {
 *       vc_init(argc, argv);                 // scans argv for --fail, -v
 *       vc_section("dot");
 *       VC_CHECK(x == 1);
 *       VC_CHECKF(err < tol, "n=%d err=%g", n, err);
 *       { vc_cmp c; vc_cmp_init(&c); for (...) vc_cmp_add(&c, i, got, want, tol);
 *         VC_CHECK_CMP(&c, "linear M=%d", M); }
 *       vc_selftest();                       // fails on purpose when asked
 *       return vc_summary();                 // 0 if every check passed
 *   }
 *
 * The last line printed is always
 *       vla_check: <passed> passed, <failed> failed
 * (the same on every target), and vc_summary() returns 1 when anything
 * failed.  A deliberate failure is requested with the argument --fail or by
 * compiling with -DVLA_SELFTEST_FAIL; the build scripts use it to prove that
 * a failing check really turns into a non-zero exit status on each target.
 *
 * The counters are file-scope statics: include this header from one
 * translation unit (the test program), not from a library.
 */
#ifndef VLA_CHECK_H
#define VLA_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef VC_MAX_REPORTS
#define VC_MAX_REPORTS 64 /* failures printed in full; later ones are only counted */
#endif
#ifndef VC_MAX_SECTION_REPORTS
#define VC_MAX_SECTION_REPORTS 10 /* per section, so that a broken kernel early
                                     on does not hide the later sections */
#endif

typedef struct vc_state {
    long passed, failed;           /* checks in the whole run           */
    long sec_passed, sec_failed;   /* checks in the current section     */
    const char *section;           /* NULL before the first vc_section  */
    int force_fail;                /* --fail or VLA_SELFTEST_FAIL       */
    int verbose;                   /* -v: print every section summary  */
    long reports;                  /* failure messages printed so far   */
    long sec_reports;              /* ... in the current section        */
    int last_printed;              /* the last failure was printed: more
                                      detail may follow (vc_printed())  */
    double sec_worst;              /* largest error/tolerance of passing
                                      comparisons in this section (-v)  */
} vc_state;

static vc_state vc_st;

#if defined(__GNUC__)
#define VC__FN static __attribute__((unused))
#define VC__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define VC__FN static
#define VC__PRINTF(f, a)
#endif

VC__FN void vc_init(int argc, char **argv) {
    int i;
    memset(&vc_st, 0, sizeof vc_st);
#if defined(VLA_SELFTEST_FAIL)
    vc_st.force_fail = 1;
#endif
#if !defined(__PICOLIBC__)
    /* Keep output in order and do not lose it if the program dies. */
    setvbuf(stdout, NULL, _IOLBF, 0);
#endif
    /* Flags may appear at any position: picolibc's semihosting argv puts a
     * fixed program name first and the kernel file name second. */
    for (i = 0; argv && i < argc; i++) {
        if (!argv[i]) continue;
        if (strcmp(argv[i], "--fail") == 0) vc_st.force_fail = 1;
        if (strcmp(argv[i], "-v") == 0) vc_st.verbose = 1;
    }
}

VC__FN int vc_has_arg(int argc, char **argv, const char *flag) {
    int i;
    for (i = 0; argv && i < argc; i++)
        if (argv[i] && strcmp(argv[i], flag) == 0) return 1;
    return 0;
}

VC__FN void vc__close_section(void) {
    if (!vc_st.section) return;
    if (vc_st.sec_failed || vc_st.verbose)
        printf("  [%s] %ld passed, %ld failed; worst passing error/tolerance %.3g\n", vc_st.section,
               vc_st.sec_passed, vc_st.sec_failed, vc_st.sec_worst);
    vc_st.section = NULL;
}

/* Starts a named group of checks; its summary is printed when it fails (or
 * always with -v). */
VC__FN void vc_section(const char *name) {
    vc__close_section();
    vc_st.section = name;
    vc_st.sec_passed = vc_st.sec_failed = 0;
    vc_st.sec_reports = 0;
    vc_st.sec_worst = 0.0;
    if (vc_st.verbose) printf("-- %s\n", name);
}

VC__FN void vc__count(int ok) {
    if (ok) { vc_st.passed++; vc_st.sec_passed++; }
    else { vc_st.failed++; vc_st.sec_failed++; }
}

VC__FN int vc__report_allowed(void) {
    vc_st.last_printed = 0;
    if (vc_st.reports >= VC_MAX_REPORTS) {
        if (vc_st.reports++ == VC_MAX_REPORTS) printf("  (further failures are counted, not printed)\n");
        return 0;
    }
    if (vc_st.sec_reports >= VC_MAX_SECTION_REPORTS) {
        if (vc_st.sec_reports++ == VC_MAX_SECTION_REPORTS)
            printf("  (further failures of this section are counted, not printed)\n");
        return 0;
    }
    vc_st.reports++;
    vc_st.sec_reports++;
    vc_st.last_printed = 1;
    return 1;
}

/* After a failed check: was its message printed (so that lines with more
 * detail belong under it)? */
VC__FN int vc_printed(void) { return vc_st.last_printed; }

VC__FN int vc_check(int ok, const char *file, int line, const char *expr) {
    vc__count(ok);
    if (!ok && vc__report_allowed())
        printf("FAIL %s:%d [%s] %s\n", file, line, vc_st.section ? vc_st.section : "-", expr);
    return ok;
}

VC__FN VC__PRINTF(4, 5) int vc_checkf(int ok, const char *file, int line, const char *fmt, ...) {
    va_list ap;
    vc__count(ok);
    if (!ok && vc__report_allowed()) {
        printf("FAIL %s:%d [%s] ", file, line, vc_st.section ? vc_st.section : "-");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
    return ok;
}

#define VC_CHECK(cond) vc_check((cond) ? 1 : 0, __FILE__, __LINE__, #cond)
/* VC_CHECKF(cond, "format", args...): the message is printed on failure. */
#define VC_CHECKF(cond, ...) vc_checkf((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

/* Element-wise comparison collected into one check: feed every element with
 * its own tolerance, then VC_CHECK_CMP reports the worst one on failure. */
typedef struct vc_cmp {
    long n, n_bad, worst_i;
    double worst_ratio;            /* |got - want| / tol, NaN mismatch = huge */
    double worst_got, worst_want, worst_tol;
} vc_cmp;

VC__FN void vc_cmp_init(vc_cmp *c) {
    memset(c, 0, sizeof *c);
    c->worst_i = -1;
}

/* NaN equals NaN here; a NaN on one side only is a failure. */
VC__FN void vc_cmp_add(vc_cmp *c, long i, double got, double want, double tol) {
    double d, r;
    int gnan = got != got, wnan = want != want;
    c->n++;
    if (gnan || wnan) {
        r = (gnan && wnan) ? 0.0 : 1e300;
    } else if (got == want) { /* also covers equal infinities */
        r = 0.0;
    } else {
        d = got > want ? got - want : want - got;
        r = tol > 0.0 ? d / tol : 1e300;
        if (d != d) r = 1e300; /* inf - inf */
    }
    if (r > 1.0) c->n_bad++;
    if (c->worst_i < 0 || r > c->worst_ratio) {
        c->worst_ratio = r; c->worst_i = i;
        c->worst_got = got; c->worst_want = want; c->worst_tol = tol;
    }
}

VC__FN VC__PRINTF(4, 5) int vc_check_cmp(const vc_cmp *c, const char *file, int line, const char *fmt, ...) {
    va_list ap;
    int ok = c->n_bad == 0;
    vc__count(ok);
    if (ok && c->n && c->worst_ratio > vc_st.sec_worst) vc_st.sec_worst = c->worst_ratio;
    if (!ok && vc__report_allowed()) {
        printf("FAIL %s:%d [%s] ", file, line, vc_st.section ? vc_st.section : "-");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf(": %ld of %ld elements off; worst [%ld] got %.9g want %.9g tol %.3g\n", c->n_bad, c->n, c->worst_i,
               c->worst_got, c->worst_want, c->worst_tol);
    }
    return ok;
}

#define VC_CHECK_CMP(c, ...) vc_check_cmp((c), __FILE__, __LINE__, __VA_ARGS__)

/* The deliberate failure: one check that fails when --fail was given or the
 * program was compiled with -DVLA_SELFTEST_FAIL, and passes otherwise. */
VC__FN void vc_selftest(void) {
    vc_section("selftest");
    VC_CHECKF(!vc_st.force_fail, "deliberate failure (--fail or -DVLA_SELFTEST_FAIL): the harness must report it");
}

/* Prints the closing line and returns the exit status for main(). */
VC__FN int vc_summary(void) {
    vc__close_section();
    printf("vla_check: %ld passed, %ld failed\n", vc_st.passed, vc_st.failed);
    fflush(stdout);
    return vc_st.failed ? 1 : 0;
}

#endif /* VLA_CHECK_H */
