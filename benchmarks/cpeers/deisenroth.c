/* Hand-written value and gradient of f = sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2)):
 * with u = x^2, e = exp(u), q = u + e,
 * df/dx = (1/(2 sqrt q) - sin q) * (1 + e) * 2x. */
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
        double s = sqrt(q);
        f[i] = s + cos(q);
        g[i] = (0.5 / s - sin(q)) * (1.0 + e) * (2.0 * xi);
    }
}
