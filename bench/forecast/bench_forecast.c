/* Forecast accuracy and speed against R's forecast package.
 * For every series in tests/fixtures/forecast/reference.json (written by reference.R), fits
 * each method on the training part through forecast_job_run, and prints per series and on
 * average the chosen model and out-of-sample MASE/sMAPE next to R's, then fits per second
 * per method and frequency.
 * Usage: bench_forecast [reps]   (run from the repository root or set ECONQ_SOURCE_DIR) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workers/forecast/fc_accuracy.h"
#include "workers/forecast/forecast_job.h"

/* The fixture CSVs are small; a longer file is a mistake. */
#define BENCH_MAX_ROWS 5000
#define BENCH_MAX_SERIES 64

static const char *bench_methods[] = {"ets", "theta", "arima", "auto", "naive", "snaive",
                                      "drift"};
#define BENCH_NMETHODS (sizeof bench_methods / sizeof bench_methods[0])

static const char *root_dir(void)
{
    const char *r = getenv("ECONQ_SOURCE_DIR");
    return r ? r : ".";
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[len] = '\0';
    fclose(f);
    return buf;
}

/* Loads a column of a fixture CSV, trimming leading and trailing empty cells. */
static size_t load_column(const char *file, const char *column, char (*dates)[11], double *v)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/data/%s", root_dir(), file);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[4096];
    int col = -1, c = 0;
    if (fgets(line, sizeof line, f))
        for (char *tok = strtok(line, ",\r\n"); tok; tok = strtok(NULL, ",\r\n"), c++)
            if (strcmp(tok, column) == 0)
                col = c;
    size_t n = 0;
    while (col > 0 && n < BENCH_MAX_ROWS && fgets(line, sizeof line, f)) {
        char *p = line;
        v[n] = NAN;
        for (c = 0; c <= col; c++) {
            size_t len = strcspn(p, ",\r\n");
            if (c == 0)
                snprintf(dates[n], 11, "%.10s", p);
            if (c == col && len > 0)
                v[n] = strtod(p, NULL);
            if (p[len] != ',')
                break;
            p += len + 1;
        }
        n++;
    }
    fclose(f);
    size_t lo = 0;
    while (lo < n && isnan(v[lo]))
        lo++;
    while (n > lo && isnan(v[n - 1]))
        n--;
    memmove(v, v + lo, (n - lo) * sizeof *v);
    memmove(dates, dates + lo, (n - lo) * sizeof *dates);
    return n - lo;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

typedef struct bench_sum {
    double mase[BENCH_NMETHODS], smape[BENCH_NMETHODS], rmase[BENCH_NMETHODS];
    double rsmape[BENCH_NMETHODS];
    double secs[3][BENCH_NMETHODS];
    size_t fits[3][BENCH_NMETHODS], ok[BENCH_NMETHODS], same_ets, nseries;
    double rsecs[3][BENCH_NMETHODS];
} bench_sum;

static int freq_index(int period)
{
    return period == 12 ? 0 : period == 4 ? 1 : 2;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/forecast/reference.json", root_dir());
    char *text = slurp(path);
    cJSON *ref = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!cJSON_IsArray(ref)) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    static char dates[BENCH_MAX_ROWS][11];
    static double v[BENCH_MAX_ROWS];
    bench_sum sum;
    memset(&sum, 0, sizeof sum);
    printf("%-28s %-14s %-14s | %-7s %-7s | %-7s %-7s | %-7s %-7s | %-7s | %-7s %-7s %-7s\n",
           "series", "R ets", "our ets", "ets", "R ets", "theta", "R theta", "arima", "R arima",
           "auto", "naive", "snaive", "drift");
    const cJSON *e;
    cJSON_ArrayForEach(e, ref)
    {
        const char *file = cJSON_GetObjectItem(e, "file")->valuestring;
        const char *column = cJSON_GetObjectItem(e, "column")->valuestring;
        int period = (int)num(e, "period");
        size_t ntrain = (size_t)num(e, "n_train"), h = (size_t)num(e, "h");
        size_t n = load_column(file, column, dates, v);
        if (n != ntrain + h) {
            fprintf(stderr, "%s/%s: %zu rows, expected %zu\n", file, column, n, ntrain + h);
            continue;
        }
        double scale = fc_mase_scale(v, ntrain, period);
        cJSON *params = cJSON_CreateObject();
        cJSON *series = cJSON_AddObjectToObject(params, "series");
        cJSON *jd = cJSON_AddArrayToObject(series, "dates");
        cJSON *jv = cJSON_AddArrayToObject(series, "values");
        for (size_t i = 0; i < ntrain; i++) {
            cJSON_AddItemToArray(jd, cJSON_CreateString(dates[i]));
            cJSON_AddItemToArray(jv, cJSON_CreateNumber(v[i]));
        }
        cJSON_AddNumberToObject(params, "horizon", (double)h);
        cJSON *method = cJSON_AddStringToObject(params, "method", "ets");
        double mase[BENCH_NMETHODS], rmase[BENCH_NMETHODS];
        char ets_model[48] = "-";
        for (size_t mi = 0; mi < BENCH_NMETHODS; mi++) {
            cJSON_SetValuestring(method, bench_methods[mi]);
            cJSON *res = NULL;
            fc_job_error err;
            double t0 = now_s();
            eq_err rc = EQ_OK;
            for (int r = 0; r < reps && rc == EQ_OK; r++) {
                cJSON_Delete(res);
                res = NULL;
                rc = forecast_job_run(params, &res, &err);
            }
            double dt = now_s() - t0;
            mase[mi] = rmase[mi] = NAN;
            const cJSON *rm = cJSON_GetObjectItem(e, strcmp(bench_methods[mi], "auto") == 0
                                                         ? "ets" : bench_methods[mi]);
            if (rm) {
                /* R's accuracy() scales by lag-1 differences here; recompute R's MASE from
                 * its point forecasts with the same seasonal scaling as ours. */
                const cJSON *rp = cJSON_GetObjectItem(rm, "point");
                double f[64];
                for (size_t j = 0; j < h && j < 64; j++)
                    f[j] = cJSON_GetArrayItem(rp, (int)j)->valuedouble;
                fc_accuracy racc = fc_accuracy_of(v + ntrain, f, h, scale);
                rmase[mi] = racc.mase;
                sum.rsecs[freq_index(period)][mi] += num(rm, "fit_ms") / 1000.0;
                sum.rmase[mi] += racc.mase;
                sum.rsmape[mi] += racc.smape;
            }
            if (rc != EQ_OK) {
                cJSON_Delete(res);
                continue;
            }
            sum.secs[freq_index(period)][mi] += dt;
            sum.fits[freq_index(period)][mi] += (size_t)reps;
            const cJSON *pt = cJSON_GetObjectItem(res, "point");
            double f[64];
            for (size_t j = 0; j < h && j < 64; j++)
                f[j] = cJSON_GetArrayItem(pt, (int)j)->valuedouble;
            fc_accuracy acc = fc_accuracy_of(v + ntrain, f, h, scale);
            mase[mi] = acc.mase;
            sum.mase[mi] += acc.mase;
            sum.smape[mi] += acc.smape;
            sum.ok[mi]++;
            if (mi == 0) {
                snprintf(ets_model, sizeof ets_model, "%s",
                         cJSON_GetObjectItem(res, "model")->valuestring);
                const char *rmodel =
                    cJSON_GetObjectItem(cJSON_GetObjectItem(e, "ets"), "model")->valuestring;
                sum.same_ets += strcmp(rmodel, ets_model) == 0;
            }
            cJSON_Delete(res);
        }
        sum.nseries++;
        char name[64];
        snprintf(name, sizeof name, "%.12s/%s", file, column);
        const cJSON *rets = cJSON_GetObjectItem(e, "ets");
        printf("%-28.28s %-14s %-14s | %7.3f %7.3f | %7.3f %7.3f | %7.3f %7.3f | %7.3f | %7.3f "
               "%7.3f %7.3f\n", name, cJSON_GetObjectItem(rets, "model")->valuestring,
               ets_model, mase[0], rmase[0], mase[1], rmase[1], mase[2], rmase[2], mase[3],
               mase[4], mase[5], mase[6]);
        cJSON_Delete(params);
    }
    double ns = (double)sum.nseries;
    printf("\nmean over %zu series: MASE / sMAPE (seasonal MASE scaling for both)\n",
           sum.nseries);
    for (size_t mi = 0; mi < BENCH_NMETHODS; mi++)
        printf("  %-7s ours %7.4f / %7.3f (%zu fitted)   R %7.4f / %7.3f%s\n", bench_methods[mi],
               sum.ok[mi] ? sum.mase[mi] / (double)sum.ok[mi] : NAN,
               sum.ok[mi] ? sum.smape[mi] / (double)sum.ok[mi] : NAN, sum.ok[mi],
               sum.rmase[mi] / ns, sum.rsmape[mi] / ns,
               strcmp(bench_methods[mi], "auto") == 0 ? " (R: ets)" : "");
    printf("ETS model identical to R's: %zu / %zu (%.0f%%)\n", sum.same_ets, sum.nseries,
           100.0 * (double)sum.same_ets / ns);
    static const char *freqs[3] = {"monthly", "quarterly", "annual"};
    printf("\nfits per second (ours, one core; R's from reference.json)\n");
    for (int fi = 0; fi < 3; fi++)
        for (size_t mi = 0; mi < BENCH_NMETHODS; mi++) {
            if (!sum.fits[fi][mi])
                continue;
            double ours = (double)sum.fits[fi][mi] / sum.secs[fi][mi];
            size_t nser = sum.fits[fi][mi] / (size_t)reps;
            double rrate = sum.rsecs[fi][mi] > 0 ? (double)nser / sum.rsecs[fi][mi] : NAN;
            printf("  %-9s %-7s %10.1f fits/s (%.3f ms/fit)   R %8.1f fits/s   x%.0f\n",
                   freqs[fi], bench_methods[mi], ours, 1000.0 / ours, rrate, ours / rrate);
        }
    cJSON_Delete(ref);
    return 0;
}
