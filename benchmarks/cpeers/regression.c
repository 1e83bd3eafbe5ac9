/* Hand-written value and gradient of the squared residual of a one-neuron regression,
 * f = (w2*sigmoid(w1*x + b1) + b2 - y)^2, with s = sigmoid(w1*x + b1),
 * r = w2*s + b2 - y, d = 2r, t = d*w2*s*(1 - s):
 * df/dx = t*w1, df/dy = -d, df/dw1 = t*x, df/db1 = t, df/dw2 = d*s, df/db2 = d. */
#include <math.h>

void kernel(long n, const double *restrict x, const double *restrict y,
            const double *restrict w1, const double *restrict b1,
            const double *restrict w2, const double *restrict b2,
            double *restrict f, double *restrict gx, double *restrict gy,
            double *restrict gw1, double *restrict gb1, double *restrict gw2,
            double *restrict gb2)
{
/* threads (with -fopenmp) only where the work outweighs waking them */
#pragma omp parallel for schedule(static) if (n >= 16384)
    for (long i = 0; i < n; i++) {
        double xi = x[i], a = w1[i], c = w2[i];
        double s = 1.0 / (1.0 + exp(-(a * xi + b1[i])));
        double r = c * s + b2[i] - y[i];
        double d = 2.0 * r;
        double t = d * c * s * (1.0 - s);
        f[i] = r * r;
        gx[i] = t * a;
        gy[i] = -d;
        gw1[i] = t * xi;
        gb1[i] = t;
        gw2[i] = d * s;
        gb2[i] = d;
    }
}
