/* Hand-written value and gradient of f = sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2)):
 * with u = x^2, e = exp(u), q = u + e,
 * df/dx = (1/(2 sqrt q) - sin q) * (1 + e) * 2x.
 * Two loops: in one, gcc fuses sin(q) and cos(q) into a scalar sincos call (no SIMD
 * variant in glibc's libmvec) and the loop stays scalar (gcc 12, -ffast-math); the
 * first loop leaves e in g for the second. */
#include <math.h>

void kernel(long n, const double *restrict x, double *restrict f, double *restrict g)
{
/* threads (with -fopenmp) only where the work outweighs waking them */
#pragma omp parallel for schedule(static) if (n >= 16384)
    for (long i = 0; i < n; i++) {
        double xi = x[i];
        double u = xi * xi;
        double e = exp(u);
        double q = u + e;
        f[i] = sqrt(q) + cos(q);
        g[i] = e;
    }
#pragma omp parallel for schedule(static) if (n >= 16384)
    for (long i = 0; i < n; i++) {
        double xi = x[i];
        double e = g[i];
        double q = xi * xi + e;
        g[i] = (0.5 / sqrt(q) - sin(q)) * (1.0 + e) * (2.0 * xi);
    }
}
