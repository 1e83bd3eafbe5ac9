/* Hand-written value and gradient of Baydin's example, f = ln(x1) + x1*x2 - sin(x2):
 * df/dx1 = 1/x1 + x2, df/dx2 = x1 - cos(x2). One loop over the n points. */
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
        g2[i] = a - cos(b);
    }
}
