/* Hand-written value and gradient of the log-density of benchmarks/workloads.py's
 * mixture of seven diagonal Gaussians in four dimensions,
 *   f = log S,  S = sum_k e_k,  e_k = exp(c_k - 0.5 sum_i ((x_i - mu_ki)/sigma_ki)^2),
 *   df/dx_i = -(1/S) sum_k e_k (x_i - mu_ki) / sigma_ki^2,
 * with the constants of MIXTURE copied verbatim (the per-component standardised
 * distances z_ki = (x_i - mu_ki)/sigma_ki are shared by value and gradient). */
#include <math.h>

#define K 7
static const double C[K] = {-4.9324, -5.6394, -4.5238, -4.9256, -5.7613, -5.3955,
                            -6.0501};
static const double MU[K][4] = {
    {0.38, 1.19, 0.83, -0.82},  {-0.1, -0.59, -0.66, -0.74}, {0.37, 1.47, -0.85, -1.02},
    {1.25, 0.39, 0.04, -0.01},  {-0.39, -1.49, 0.99, -1.04}, {0.73, -1.23, 0.12, 0.02},
    {-0.53, -1.05, 0.95, -0.36}};
/* 1/sigma_ki (constant-folded by the compiler) */
static const double ISIG[K][4] = {
    {1.0 / 0.8, 1.0 / 1.37, 1.0 / 0.51, 1.0 / 1.32},
    {1.0 / 0.95, 1.0 / 1.02, 1.0 / 1.05, 1.0 / 1.5},
    {1.0 / 1.11, 1.0 / 0.54, 1.0 / 0.54, 1.0 / 1.01},
    {1.0 / 0.75, 1.0 / 0.51, 1.0 / 0.69, 1.0 / 1.19},
    {1.0 / 0.77, 1.0 / 1.38, 1.0 / 1.01, 1.0 / 1.35},
    {1.0 / 1.37, 1.0 / 0.86, 1.0 / 1.1, 1.0 / 0.56},
    {1.0 / 1.48, 1.0 / 1.09, 1.0 / 1.11, 1.0 / 1.14}};

void kernel(long n, const double *restrict x1, const double *restrict x2,
            const double *restrict x3, const double *restrict x4,
            double *restrict f, double *restrict g1, double *restrict g2,
            double *restrict g3, double *restrict g4)
{
/* threads (with -fopenmp) only where the work outweighs waking them */
#pragma omp parallel for schedule(static) if (n >= 16384)
    for (long i = 0; i < n; i++) {
        const double x[4] = {x1[i], x2[i], x3[i], x4[i]};
        double s = 0.0, a[4] = {0.0, 0.0, 0.0, 0.0};
        for (int k = 0; k < K; k++) {
            double z[4], q = 0.0;
            for (int j = 0; j < 4; j++) {
                z[j] = (x[j] - MU[k][j]) * ISIG[k][j];
                q += z[j] * z[j];
            }
            double e = exp(C[k] - 0.5 * q);
            s += e;
            for (int j = 0; j < 4; j++)
                a[j] += e * z[j] * ISIG[k][j];
        }
        double r = -1.0 / s;
        f[i] = log(s);
        g1[i] = a[0] * r;
        g2[i] = a[1] * r;
        g3[i] = a[2] * r;
        g4[i] = a[3] * r;
    }
}
