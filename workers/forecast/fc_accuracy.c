#include "workers/forecast/fc_accuracy.h"

#include <math.h>

double fc_mase_scale(const double *y, size_t n, int period)
{
    size_t lag = period > 1 && n > (size_t)period ? (size_t)period : 1;
    if (n <= lag)
        return NAN;
    double s = 0.0;
    for (size_t t = lag; t < n; t++)
        s += fabs(y[t] - y[t - lag]);
    return s / (double)(n - lag);
}

fc_accuracy fc_accuracy_of(const double *a, const double *f, size_t k, double scale)
{
    double sae = 0.0, sse = 0.0, ssm = 0.0;
    size_t cnt = 0, cnts = 0;
    for (size_t i = 0; i < k; i++) {
        if (isnan(a[i]) || isnan(f[i]))
            continue;
        double e = a[i] - f[i];
        sae += fabs(e);
        sse += e * e;
        cnt++;
        double den = fabs(a[i]) + fabs(f[i]);
        if (den > 0) {
            ssm += 200.0 * fabs(e) / den;
            cnts++;
        }
    }
    fc_accuracy acc = {NAN, NAN, NAN};
    if (cnt == 0)
        return acc;
    if (scale > 0 && isfinite(scale))
        acc.mase = sae / (double)cnt / scale;
    acc.smape = cnts ? ssm / (double)cnts : NAN;
    acc.rmse = sqrt(sse / (double)cnt);
    return acc;
}
