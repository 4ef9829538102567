# Reference outputs of mirt's graded response model for rctscale's IRT conformance tests.
# Needs R with mirt (>= 1.38; Debian has no r-cran-mirt: install it from source with its Imports
# GPArotation, gridExtra, Matrix, Rcpp, RcppArmadillo, mgcv, vegan, Deriv, splines, pbapply, dcurver)
# and jsonlite. Run from this folder: Rscript make_reference_irt.R
# Writes irt_reference.json.
suppressMessages({library(mirt); library(jsonlite)})
versions <- list(R=R.version.string, mirt=as.character(packageVersion("mirt")))

lk <- read.csv("likert1500.csv"); items <- lk[, 1:18]

grm_reference <- function(x) {
  # TOL tighter than mirt's 1e-4 so the reference is the maximum itself, not an EM stopping point;
  # everything else at mirt's defaults (61 quadrature points on [-6, 6], N(0, 1) trait).
  fit <- mirt(x, 1, itemtype="graded", TOL=1e-7, SE=TRUE, SE.type="Oakes", verbose=FALSE,
              technical=list(NCYCLES=5000))
  irt <- coef(fit, IRTpars=TRUE, simplify=TRUE)$items
  slope_intercept <- coef(fit, simplify=TRUE)$items
  with_se <- coef(fit, printSE=TRUE)
  se_table <- t(sapply(colnames(x), function(item) with_se[[item]]["SE", ]))
  eap <- fscores(fit, method="EAP", full.scores.SE=TRUE)[1:20, ]
  map <- fscores(fit, method="MAP", full.scores.SE=TRUE)[1:20, ]
  list(items=colnames(x),
       a=unname(irt[, "a1"]),
       b=unname(irt[, grep("^b", colnames(irt))]),
       d=unname(slope_intercept[, grep("^d", colnames(slope_intercept))]),
       se_a=unname(se_table[, "a1"]),
       se_d=unname(se_table[, grep("^d", colnames(se_table))]),
       loglik=extract.mirt(fit, "logLik"), aic=extract.mirt(fit, "AIC"), bic=extract.mirt(fit, "BIC"),
       n_parameters=extract.mirt(fit, "nest"), converged=extract.mirt(fit, "converged"),
       iterations=extract.mirt(fit, "iterations"),
       eap_theta=unname(eap[, "F1"]), eap_se=unname(eap[, "SE_F1"]),
       map_theta=unname(map[, "F1"]), map_se=unname(map[, "SE_F1"]),
       eap_rows=1:20)
}

out <- list(versions=versions,
            note=paste("mirt(x, 1, itemtype = 'graded', TOL = 1e-7, SE = TRUE, SE.type = 'Oakes');",
                       "a, b from coef(IRTpars = TRUE), d and SEs from the slope-intercept metric;",
                       "fscores(method = 'EAP' / 'MAP', full.scores.SE = TRUE) for the first 20 rows"),
            connection=grm_reference(items[, paste0("c", 1:6)]),
            all18=grm_reference(items))
writeLines(toJSON(out, digits=NA, auto_unbox=TRUE, pretty=TRUE), "irt_reference.json")
