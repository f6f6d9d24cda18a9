#!/usr/bin/env Rscript
# Reference forecasts from R's forecast package for the public series.
# For each series: hold out the last h points (18 monthly, 8 quarterly, 6 annual), fit
# ets(), auto.arima(), thetaf(), naive(), snaive(), rwf(drift = TRUE) on the rest and write
# the chosen models, parameters, point forecasts, 80/95% intervals, test-set MASE/sMAPE and
# fit times to tests/fixtures/forecast/reference.json (committed; tests never need R).
# Run from the repository root: Rscript bench/forecast/reference.R
suppressMessages({ library(forecast); library(jsonlite) })

series <- list(
  list("co2_monthly.csv", "co2_ppm", 12), list("nottingham_temp_monthly.csv", "temp_f", 12),
  list("uk_driver_deaths_monthly.csv", "deaths", 12),
  list("us_macro_monthly.csv", "industrial_production", 12),
  list("us_macro_monthly.csv", "unemployment_rate", 12),
  list("us_macro_monthly.csv", "fed_funds_rate", 12),
  list("us_macro_monthly.csv", "pce_deflator", 12), list("us_macro_monthly.csv", "oil_ppi", 12),
  list("us_macro_monthly.csv", "commodity_index", 12),
  list("us_economic_quarterly.csv", "log.M1.", 4), list("us_economic_quarterly.csv", "log.GNP.", 4),
  list("us_economic_quarterly.csv", "rs", 4), list("us_economic_quarterly.csv", "rl", 4))
for (col in c("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "tbilrate",
              "unemp", "pop", "infl", "realint"))
  series[[length(series) + 1]] <- list("us_macro_quarterly.csv", col, 4)
series[[length(series) + 1]] <- list("lynx_annual.csv", "trappings", 1)
series[[length(series) + 1]] <- list("lake_huron_annual.csv", "level_ft", 1)

smape <- function(a, f) mean(200 * abs(a - f) / (abs(a) + abs(f)))

timed <- function(expr_fn, reps) {
  t0 <- proc.time()[["elapsed"]]
  for (i in seq_len(reps)) res <- expr_fn()
  list(res = res, ms = 1000 * (proc.time()[["elapsed"]] - t0) / reps)
}

describe <- function(fc, train, test, ms, extra = list()) {
  acc <- accuracy(fc, test)
  c(list(point = as.numeric(fc$mean),
         lower80 = as.numeric(fc$lower[, 1]), upper80 = as.numeric(fc$upper[, 1]),
         lower95 = as.numeric(fc$lower[, 2]), upper95 = as.numeric(fc$upper[, 2]),
         mase = acc["Test set", "MASE"], smape = smape(test, as.numeric(fc$mean)),
         fit_ms = ms), extra)
}

out <- list()
for (s in series) {
  d <- read.csv(file.path("tests/fixtures/data", s[[1]]), check.names = FALSE)
  y <- d[[s[[2]]]]
  dates <- as.character(d$date)
  keep <- which(!is.na(y))
  y <- y[min(keep):max(keep)]
  dates <- dates[min(keep):max(keep)]
  m <- s[[3]]
  h <- switch(as.character(m), "12" = 18, "4" = 8, "1" = 6)
  n <- length(y) - h
  yy <- ts(y, frequency = m)
  train <- ts(y[1:n], frequency = m)
  test <- y[(n + 1):length(y)]
  reps <- 3
  e <- timed(function() ets(train), reps)
  fe <- forecast(e$res, h = h, level = c(80, 95))
  ep <- e$res$par
  a <- timed(function() auto.arima(train), reps)
  fa <- forecast(a$res, h = h, level = c(80, 95))
  th <- timed(function() thetaf(train, h = h, level = c(80, 95)), reps)
  nv <- timed(function() naive(train, h = h, level = c(80, 95)), reps)
  sn <- timed(function() snaive(train, h = h, level = c(80, 95)), reps)
  dr <- timed(function() rwf(train, h = h, drift = TRUE, level = c(80, 95)), reps)
  comps <- e$res$components
  out[[length(out) + 1]] <- list(
    file = s[[1]], column = s[[2]], period = m, n_train = n, h = h,
    first_date = dates[1], test = test,
    ets = describe(fe, train, test, e$ms, list(
      model = e$res$method, components = comps, par = as.list(ep),
      aicc = e$res$aicc, loglik = e$res$loglik, sigma2 = e$res$sigma2)),
    arima = describe(fa, train, test, a$ms, list(
      model = as.character(a$res), arma = a$res$arma, coef = as.list(coef(a$res)),
      aicc = a$res$aicc, sigma2 = a$res$sigma2)),
    theta = describe(th$res, train, test, th$ms),
    naive = describe(nv$res, train, test, nv$ms),
    snaive = describe(sn$res, train, test, sn$ms),
    drift = describe(dr$res, train, test, dr$ms))
  cat(sprintf("%-30s %-22s n=%d %s %s\n", s[[1]], s[[2]], n, e$res$method, as.character(a$res)))
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = I(17), pretty = FALSE),
           "tests/fixtures/forecast/reference.json")
