#!/usr/bin/env Rscript
# Live R timings for ./ops/bench: fits per second of R's forecast package on this machine, in
# this run, for one series per frequency (the same hold-out as bench/forecast/reference.R).
# Prints CSV lines: frequency,series,method,fits_per_s. Run from the repository root.
suppressMessages(library(forecast))

series <- list(list("monthly", "co2_monthly.csv", "co2_ppm", 12, 18),
               list("quarterly", "us_macro_quarterly.csv", "realgdp", 4, 8),
               list("annual", "lynx_annual.csv", "trappings", 1, 6))

# Repeats fn until at least min_s seconds passed (at least once); returns fits per second.
rate <- function(fn, min_s = 0.3) {
  n <- 0
  t0 <- proc.time()[["elapsed"]]
  repeat {
    fn()
    n <- n + 1
    dt <- proc.time()[["elapsed"]] - t0
    if (dt >= min_s) break
  }
  n / dt
}

cat("frequency,series,method,fits_per_s\n")
for (s in series) {
  d <- read.csv(file.path("tests/fixtures/data", s[[2]]), check.names = FALSE)
  y <- d[[s[[3]]]]
  y <- y[!is.na(y)]
  h <- s[[5]]
  train <- ts(y[1:(length(y) - h)], frequency = s[[4]])
  fns <- list(
    ets = function() forecast(ets(train), h = h, level = c(80, 95)),
    arima = function() forecast(auto.arima(train), h = h, level = c(80, 95)),
    theta = function() thetaf(train, h = h, level = c(80, 95)),
    naive = function() naive(train, h = h, level = c(80, 95)),
    snaive = function() snaive(train, h = h, level = c(80, 95)),
    drift = function() rwf(train, h = h, drift = TRUE, level = c(80, 95)))
  for (m in names(fns))
    cat(sprintf("%s,%s/%s,%s,%.1f\n", s[[1]], s[[2]], s[[3]], m, rate(fns[[m]])))
}
