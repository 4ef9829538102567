# The R side of benchmarks/run.py: times psych, lavaan and mirt on the same CSV files.
#
# Not run by itself: run.py copies this file into a temporary folder, puts a line
#   CONFIG_JSON <- '...'
# in front of it (the cases, data paths, repeats) and runs it once with Rscript. Each case is
# timed like the Python side: one warm-up call; calls shorter than min_sample seconds are
# repeated `number` times per sample (number doubling until a sample lasts min_sample); then
# `repeats` samples of proc.time() elapsed. Package loading and reading the CSV files are not
# timed. The result (times, key numbers for the "same numbers" check, versions) is written as
# JSON to the path named in the config; a case whose package is missing is skipped with the reason.

suppressPackageStartupMessages(library(jsonlite))
cfg <- fromJSON(CONFIG_JSON, simplifyVector = FALSE)

wanted <- c("psych", "GPArotation", "lavaan", "mirt")
available <- vapply(wanted, function(p) suppressWarnings(suppressMessages(requireNamespace(p, quietly = TRUE))),
                    logical(1))
for (p in wanted[available]) suppressPackageStartupMessages(library(p, character.only = TRUE))

version_of <- function(p) if (available[[p]]) as.character(packageVersion(p)) else NA
blas <- tryCatch(extSoftVersion()[["BLAS"]], error = function(e) NA)
meta <- list(
  r_version = R.version.string,
  blas = if (is.na(blas) || blas == "") sessionInfo()$BLAS else blas,
  lapack = tryCatch(La_library(), error = function(e) NA),
  packages = lapply(setNames(wanted, wanted), version_of),
  mc_cores = getOption("mc.cores", 2L),
  detected_cores = parallel::detectCores()
)

now <- function() proc.time()[["elapsed"]]

datasets <- lapply(cfg$data, function(spec) read.csv(spec$path))

ML_STEPS <- list(configural = "", metric = "loadings", scalar = c("loadings", "intercepts"))
ORDINAL_STEPS <- list(configural = "", thresholds = "thresholds", scalar = c("thresholds", "loadings"))

# One case: the packages it needs, the label of the implementation, the timed call and the
# extraction of its key numbers (not timed).
make_case <- function(case) {
  d <- datasets[[case$data]]
  items <- unlist(case$items)
  x <- d[, items]
  nf <- case$n_factors
  model <- case$model
  group <- case$group
  n_iter <- cfg$n_iter
  fit_steps <- function(steps, ...) {
    lapply(steps, function(ge) {
      f <- lavaan::cfa(model, data = d, group = group, group.equal = ge, ...)
      lavaan::fitMeasures(f)
    })
  }
  switch(case$kind,
    alpha = list(
      needs = "psych", label = "psych::alpha",
      run = function() psych::alpha(x, warnings = FALSE),
      key = function(a) list(alpha = a$total$raw_alpha)),
    kmo_bartlett = list(
      needs = "psych", label = "psych::KMO + cortest.bartlett",
      run = function() list(kmo = psych::KMO(x), bartlett = psych::cortest.bartlett(x)),
      key = function(r) list(kmo = r$kmo$MSA, bartlett_chisq = r$bartlett$chisq)),
    efa = list(
      needs = c("psych", "GPArotation"), label = "psych::fa",
      run = function() psych::fa(x, nfactors = nf, fm = "minres", rotate = "oblimin"),
      key = function(f) list(loadings = unname(unclass(f$loadings)))),
    parallel = list(
      needs = "psych", label = "psych::fa.parallel",
      run = function() {
        set.seed(1)
        capture.output(pa <- psych::fa.parallel(x, n.iter = n_iter, plot = FALSE))
        pa
      },
      key = function(pa) list(n_factors = pa$nfact, n_components = pa$ncomp)),
    omega = list(
      needs = c("psych", "GPArotation"), label = "psych::omega",
      run = function() psych::omega(x, nfactors = nf, plot = FALSE),
      key = function(om) list(omega_h = om$omega_h, omega_total = om$omega.tot)),
    cfa_ml = list(
      needs = "lavaan", label = "lavaan::cfa",
      run = function() lavaan::fitMeasures(lavaan::cfa(model, data = d)),
      key = function(fm) list(chisq = fm[["chisq"]])),
    invariance_ml = list(
      needs = "lavaan", label = "lavaan::cfa x3 (group.equal)",
      run = function() fit_steps(ML_STEPS),
      key = function(fits) list(chisq = unname(vapply(fits, function(fm) fm[["chisq"]], numeric(1))))),
    polychoric = list(
      needs = "psych", label = "psych::polychoric",
      run = function() psych::polychoric(x),
      key = function(pc) list(rho = unname(pc$rho))),
    cfa_wlsmv = list(
      needs = "lavaan", label = "lavaan::cfa WLSMV",
      run = function() lavaan::fitMeasures(lavaan::cfa(model, data = d, ordered = items, estimator = "WLSMV")),
      key = function(fm) list(chisq = fm[["chisq"]], chisq_scaled = fm[["chisq.scaled"]])),
    invariance_wlsmv = list(
      needs = "lavaan", label = "lavaan::cfa WLSMV x3",
      run = function() fit_steps(ORDINAL_STEPS, ordered = items, estimator = "WLSMV"),
      key = function(fits) list(
        chisq = unname(vapply(fits, function(fm) fm[["chisq"]], numeric(1))),
        chisq_scaled = unname(vapply(fits, function(fm) fm[["chisq.scaled"]], numeric(1))))),
    grm = list(
      needs = "mirt", label = "mirt::mirt graded",
      run = function() mirt::mirt(x, 1, itemtype = "graded", verbose = FALSE),
      key = function(fit) list(
        a = unname(mirt::coef(fit, simplify = TRUE)$items[, "a1"]),
        loglik = mirt::extract.mirt(fit, "logLik"))),
    validation = list(
      needs = c("psych", "GPArotation", "lavaan"), label = "psych + lavaan",
      run = function() {
        steps <- list()
        t0 <- now()
        lap <- function(name, value) {
          force(value)  # R's arguments are lazy: evaluate the step before reading the clock
          t1 <- now()
          steps[[name]] <<- t1 - t0
          t0 <<- t1
          value
        }
        pc <- lap("polychoric", psych::polychoric(x))
        pa <- lap("parallel", {
          set.seed(1)
          capture.output(p <- psych::fa.parallel(x, n.iter = n_iter, cor = "poly", plot = FALSE))
          p
        })
        ef <- lap("efa", psych::fa(pc$rho, nfactors = pa$nfact, n.obs = nrow(x), fm = "minres",
                                   rotate = "oblimin"))
        cf <- lap("cfa_wlsmv", lavaan::fitMeasures(lavaan::cfa(model, data = d, ordered = items,
                                                               estimator = "WLSMV")))
        inv <- lap("invariance_wlsmv", fit_steps(ORDINAL_STEPS, ordered = items, estimator = "WLSMV"))
        list(steps = steps, pc = pc, pa = pa, ef = ef, cf = cf, inv = inv)
      },
      key = function(r) list(
        rho = unname(r$pc$rho), n_factors = r$pa$nfact, loadings = unname(unclass(r$ef$loadings)),
        chisq_scaled = r$cf[["chisq.scaled"]],
        inv_chisq_scaled = unname(vapply(r$inv, function(fm) fm[["chisq.scaled"]], numeric(1))))),
    stop("unknown case kind ", case$kind)
  )
}

# Warm-up, calibration of the calls per sample, then `repeats` samples (seconds per call).
measure <- function(run, repeats, min_sample) {
  t0 <- now()
  value <- run()
  warm <- now() - t0
  number <- 1L
  if (warm < min_sample) {
    repeat {
      t0 <- now()
      for (i in seq_len(number)) run()
      if (now() - t0 >= min_sample || number >= cfg$max_number) break
      number <- number * 2L
    }
  }
  times <- numeric(repeats)
  values <- vector("list", repeats)
  for (j in seq_len(repeats)) {
    t0 <- now()
    for (i in seq_len(number)) value <- run()
    times[j] <- (now() - t0) / number
    values[[j]] <- value
  }
  list(times = times, number = number, values = values)
}

results <- list()
for (case in cfg$cases) {
  spec <- make_case(case)
  missing <- spec$needs[!available[spec$needs]]
  if (length(missing) > 0) {
    results[[case$id]] <- list(impl = spec$label,
                               skipped = paste("R package not installed:", paste(missing, collapse = ", ")))
    next
  }
  repeats <- if (isTRUE(case$large)) cfg$large_repeats else cfg$repeats
  cat(sprintf("[R] %s ...\n", case$id))
  outcome <- tryCatch({
    m <- measure(function() suppressWarnings(suppressMessages(spec$run())), repeats, cfg$min_sample)
    entry <- list(impl = spec$label, times = m$times, number = m$number, key = spec$key(m$values[[repeats]]))
    if (case$kind == "validation") entry$steps <- lapply(m$values, function(v) v$steps)
    entry
  }, error = function(e) list(impl = spec$label, error = conditionMessage(e)))
  results[[case$id]] <- outcome
}

writeLines(toJSON(list(meta = meta, results = results), auto_unbox = TRUE, digits = NA, na = "null"),
           cfg$output)
cat("[R] done\n")
