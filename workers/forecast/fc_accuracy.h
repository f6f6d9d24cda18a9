/* Accuracy measures: MASE (scaled by the in-sample seasonal naive MAE, as R's accuracy()),
 * sMAPE (percent, 0..200, the M4 definition) and RMSE. */
#ifndef ECONQ_WORKERS_FORECAST_FC_ACCURACY_H
#define ECONQ_WORKERS_FORECAST_FC_ACCURACY_H

#include <stddef.h>

typedef struct fc_accuracy {
    double mase, smape, rmse; /* NAN when undefined */
} fc_accuracy;

/* The mean absolute `period`-lag difference of the training data (lag 1 when period <= 1 or
 * the series is too short); NAN when it cannot be computed. */
double fc_mase_scale(const double *y, size_t n, int period);

/* Accuracy of forecasts `f` against actuals `a` (k values; NAN entries skipped), MASE scaled
 * by `scale`. */
fc_accuracy fc_accuracy_of(const double *a, const double *f, size_t k, double scale);

#endif
