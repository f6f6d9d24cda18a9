/* The fuzz target of the chart and report JSON front ends, shared by chart_render_test and
 * the libFuzzer binary. */
#ifndef ECONQ_TESTS_CHART_FUZZ_H
#define ECONQ_TESTS_CHART_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Parses `data` as JSON and feeds it to chart_forecast_from_json() (as the result, and its
 * "history" member as the history), chart_lines_from_json(), chart_opts_from_json() and
 * report_series_from_json(). Returns 0 when every call either succeeded with output or
 * failed with a message; 1 otherwise. */
int chart_fuzz_one(const uint8_t *data, size_t size);

#endif
