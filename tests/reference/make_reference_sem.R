# Reference numbers for rctscale's SEM module (standard errors, std.all, modification
# indices, strict invariance, FIML) from lavaan. Complements make_reference.R.
# Needs: apt-get install r-base-core r-cran-lavaan r-cran-jsonlite
# Run from tests/reference/: Rscript make_reference_sem.R  -> sem_reference.json
suppressMessages({library(lavaan); library(jsonlite)})
versions <- list(R=R.version.string, lavaan=as.character(packageVersion("lavaan")))
fits <- c("chisq","df","pvalue","cfi","tli","rmsea","rmsea.ci.lower","rmsea.ci.upper","srmr",
          "aic","bic","ntotal","logl","unrestricted.logl","baseline.chisq","baseline.df","npar")
fm <- function(f) as.list(fitMeasures(f, fits))
estimates <- function(f) {
  pe <- parameterEstimates(f, ci=FALSE)
  ss <- standardizedSolution(f, se=FALSE, zstat=FALSE, pvalue=FALSE, ci=FALSE)
  pe$group <- if (is.null(pe$group)) 1L else pe$group
  list(lhs=pe$lhs, op=pe$op, rhs=pe$rhs, group=pe$group, est=pe$est, se=pe$se, std_all=ss$est.std)
}
mi <- function(f) {
  m <- modindices(f)
  list(lhs=m$lhs, op=m$op, rhs=m$rhs, mi=m$mi, epc=m$epc, sepc_all=m$sepc.all)
}
hs <- read.csv("hs1939.csv")
hs_model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
fit <- cfa(hs_model, data=hs)
conf <- cfa(hs_model, data=hs, group="school")
strict <- cfa(hs_model, data=hs, group="school", group.equal=c("loadings", "intercepts", "residuals"))
scalar <- cfa(hs_model, data=hs, group="school", group.equal=c("loadings", "intercepts"))
# fixed values, labels and a residual covariance, to test the syntax end to end
custom_model <- "visual =~ x1 + a*x2 + a*x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + 0.8*x9\nx7 ~~ x8"
custom <- cfa(custom_model, data=hs)
# deterministic holes in hs1939 for FIML (the same rule is coded in tests/test_sem.py)
hsm <- hs
hsm$x2[hsm$id %% 7 == 0] <- NA
hsm$x5[hsm$id %% 11 == 0] <- NA
hsm$x9[hsm$id %% 13 == 0] <- NA
hsm$x1[hsm$id %% 17 == 0] <- NA
hsm$x4[hsm$id %% 17 == 0] <- NA
fiml_hs <- cfa(hs_model, data=hsm, missing="ml")
fiml_hs_group <- cfa(hs_model, data=hsm, missing="ml", group="school", group.equal="loadings")
lk <- read.csv("likert1500.csv")
lk_model <- "conn =~ c1 + c2 + c3 + c4 + c5 + c6\nmutu =~ m1 + m2 + m3 + m4 + m5 + m6\nshame =~ s1 + s2 + s3 + s4 + s5 + s6"
fiml_lk <- cfa(lk_model, data=lk, missing="ml")
lk_ml <- cfa(lk_model, data=lk)
out <- list(versions=versions,
  hs_ml=list(model=hs_model, fit=fm(fit), estimates=estimates(fit), modindices=mi(fit)),
  hs_configural=list(fit=fm(conf), estimates=estimates(conf)),
  hs_scalar=list(fit=fm(scalar), estimates=estimates(scalar)),
  hs_strict=list(fit=fm(strict), estimates=estimates(strict)),
  hs_custom=list(model=custom_model, fit=fm(custom), estimates=estimates(custom)),
  hs_fiml=list(holes="x2: id%%7==0; x5: id%%11==0; x9: id%%13==0; x1,x4: id%%17==0",
               fit=fm(fiml_hs), estimates=estimates(fiml_hs)),
  hs_fiml_group_metric=list(fit=fm(fiml_hs_group), estimates=estimates(fiml_hs_group)),
  likert_ml=list(estimates=estimates(lk_ml), modindices=mi(lk_ml)),
  likert_fiml=list(fit=fm(fiml_lk), estimates=estimates(fiml_lk)))
write(toJSON(out, auto_unbox=TRUE, digits=NA, pretty=TRUE), "sem_reference.json")
# timings for the benchmark notes (not part of the JSON)
t1 <- system.time(for (i in 1:20) cfa(hs_model, data=hs))[["elapsed"]] / 20
t3 <- system.time(for (i in 1:5) for (ge in list("", "loadings", c("loadings","intercepts")))
  cfa(hs_model, data=hs, group="school", group.equal=ge))[["elapsed"]] / 5
cat(sprintf("lavaan timing: hs1939 single-group cfa %.4f s; 3-step invariance %.4f s\n", t1, t3))
