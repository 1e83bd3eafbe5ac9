/* Hand-written value and gradient of Baydin's example, f = ln(x1) + x1*x2 - sin(x2):
 * df/dx1 = 1/x1 + x2, df/dx2 = x1 - cos(x2). Two loops over the n points: in one loop
 * gcc fuses sin(x2) and cos(x2) into a scalar sincos call, which has no SIMD variant
 * in glibc's libmvec, and the whole loop stays scalar (gcc 12, -ffast-math); with the
 * cosine in a second loop both vectorise. */
#include <math.h>

void kernel(long n, const double *restrict x1, const double *restrict x2,
            double *restrict f, double *restrict g1, double *restrict g2)
{
/* threads (with -fopenmp) only where the work outweighs waking them */
#pragma omp parallel for schedule(static) if (n >= 16384)
    for (long i = 0; i < n; i++) {
        double a = x1[i], b = x2[i];
        f[i] = log(a) + a * b - sin(b);
        g1[i] = 1.0 / a + b;
    }
#pragma omp parallel for schedule(static) if (n >= 16384)
    for (long i = 0; i < n; i++)
        g2[i] = x1[i] - cos(x2[i]);
}
