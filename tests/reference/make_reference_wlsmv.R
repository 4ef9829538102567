# Reference numbers for rctscale's ordinal CFA (DWLS estimates, WLSMV inference) from lavaan.
# Complements make_reference.R (which stores cfa_wlsmv and invariance_group_wlsmv) with
# standard errors, sample statistics (thresholds, polychorics, Gamma), unscaled and scaled test
# statistics, SRMR, lavTestLRT differences and a binary / 3-category model.
# Needs: apt-get install r-base-core r-cran-lavaan r-cran-jsonlite
# Run from tests/reference/: Rscript make_reference_wlsmv.R  -> wlsmv_reference.json
suppressMessages({library(lavaan); library(jsonlite)})
versions <- list(R=R.version.string, lavaan=as.character(packageVersion("lavaan")))
fits <- c("npar", "chisq", "df", "pvalue", "chisq.scaled", "df.scaled", "pvalue.scaled",
          "chisq.scaling.factor", "baseline.chisq", "baseline.df", "baseline.chisq.scaled",
          "baseline.df.scaled", "baseline.chisq.scaling.factor", "cfi", "tli", "cfi.scaled", "tli.scaled",
          "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.scaled", "rmsea.ci.lower.scaled",
          "rmsea.ci.upper.scaled", "srmr", "ntotal")
fm <- function(f) as.list(fitMeasures(f, fits))
scaled_test <- function(f) {
  t <- lavInspect(f, "test")
  s <- t[[length(t)]]
  list(test=s$test, stat=s$stat, df=s$df, scaling_factor=s$scaling.factor,
       shift_parameter=if (is.null(s$shift.parameter)) NA else s$shift.parameter,
       trace_ugamma=s$trace.UGamma, trace_ugamma2=if (is.null(s$trace.UGamma2)) NA else s$trace.UGamma2)
}
estimates <- function(f) {
  pe <- parameterEstimates(f, ci=FALSE)
  ss <- standardizedSolution(f, se=FALSE, zstat=FALSE, pvalue=FALSE, ci=FALSE)
  pe$group <- if (is.null(pe$group)) 1L else pe$group
  list(lhs=pe$lhs, op=pe$op, rhs=pe$rhs, group=pe$group, est=pe$est, se=pe$se, std_all=ss$est.std)
}
sampstats <- function(f) {
  s <- lavInspect(f, "sampstat")
  if (!is.null(s$cov)) s <- list(s)
  g <- lavInspect(f, "gamma")
  if (is.matrix(g)) g <- list(g)
  lapply(seq_along(s), function(i) {
    R <- unclass(s[[i]]$cov)
    G <- unclass(g[[i]])
    list(items=colnames(R), thresholds=setNames(as.list(unclass(s[[i]]$th)), names(s[[i]]$th)),
         polychoric=unname(R), gamma_diag=unname(diag(G)),
         gamma_block=unname(G[1:min(12, nrow(G)), seq(1, nrow(G), by=7)]),
         gamma_block_cols=seq(1, nrow(G), by=7) - 1L, gamma_names=rownames(G))
  })
}

lk <- read.csv("likert1500.csv")
lk_model <- "conn =~ c1 + c2 + c3 + c4 + c5 + c6\nmutu =~ m1 + m2 + m3 + m4 + m5 + m6\nshame =~ s1 + s2 + s3 + s4 + s5 + s6"
items <- names(lk)[1:18]

# 1. single group WLSMV (lavaan's default for ordered items) and plain DWLS (standard SEs)
fw <- cfa(lk_model, data=lk, ordered=items)
fd <- cfa(lk_model, data=lk, ordered=items, estimator="DWLS")

# 2. invariance across group: configural, equal thresholds, equal thresholds + loadings
steps <- list(configural="", thresholds="thresholds", scalar=c("thresholds", "loadings"))
inv <- lapply(steps, function(ge) cfa(lk_model, data=lk, ordered=items, group="group", group.equal=ge))
lrt <- lavTestLRT(inv$configural, inv$thresholds, inv$scalar)
lrt_cs <- lavTestLRT(inv$configural, inv$scalar)
lrt_list <- function(x) list(models=rownames(x), df=x[["Df"]], chisq=x[["Chisq"]],
                             chisq_diff=x[["Chisq diff"]], df_diff=x[["Df diff"]], pvalue=x[["Pr(>Chisq)"]],
                             scale=attr(x, "scale"), shift=attr(x, "shift"))

# 3. binary and 3-category items, std.lv, a residual covariance (2x2 tables, zero.add branch)
small <- lk[, c("c1", "c2", "c3", "c4", "c5", "c6")]
small$c1 <- as.integer(small$c1 >= 3)
small$c2 <- as.integer(small$c2 >= 4)
small$c3 <- cut(small$c3, c(0, 2, 3, 5), labels=FALSE)
small_model <- "conn =~ c1 + c2 + c3 + c4 + c5 + c6\nc4 ~~ c5"
fs <- cfa(small_model, data=small, ordered=names(small), std.lv=TRUE)

# 4. a 2 x 2 table with one empty cell (lavaan adds 0.5 to it, keeping the margins)
zc <- data.frame(a=rep(c(0, 1), c(213, 187)), b=rep(c(0, 0, 1), c(213, 96, 91)), c=rep(0:2, length.out=400))
zc_cor <- lavCor(zc, ordered=names(zc))

out <- list(versions=versions, data="likert1500.csv", model=lk_model,
  cfa_wlsmv=list(fit=fm(fw), scaled_test=scaled_test(fw), estimates=estimates(fw), sampstats=sampstats(fw)),
  cfa_dwls=list(fit=as.list(fitMeasures(fd, c("chisq", "df", "cfi", "tli", "rmsea", "srmr"))),
                estimates=estimates(fd)),
  invariance=lapply(inv, function(f) list(fit=fm(f), scaled_test=scaled_test(f), estimates=estimates(f))),
  invariance_sampstats=sampstats(inv$configural),
  invariance_lrt=lrt_list(lrt), invariance_lrt_configural_scalar=lrt_list(lrt_cs),
  binary=list(recode="c1 >= 3 -> 1 else 0; c2 >= 4 -> 1 else 0; c3: 1-2 -> 1, 3 -> 2, 4-5 -> 3",
              model=small_model, std_lv=TRUE, fit=fm(fs), scaled_test=scaled_test(fs),
              estimates=estimates(fs), sampstats=sampstats(fs)),
  zero_cell=list(data="a = rep(c(0, 1), c(213, 187)); b = rep(c(0, 0, 1), c(213, 96, 91)); c = rep(0:2, length.out = 400)",
                 polychoric=unname(unclass(zc_cor))))
write(toJSON(out, auto_unbox=TRUE, digits=NA, pretty=TRUE, na="null"), "wlsmv_reference.json")
