# More reference numbers for the factor-analytic functions (efa, rotations, dimensionality, omega),
# beyond those of make_reference.R. Writes efa_reference.json next to this file.
# Needs: apt-get install r-base-core r-cran-psych r-cran-gparotation r-cran-jsonlite
# Run from this folder: Rscript make_reference_efa.R   (psych 2.2.9 and GPArotation 2022.10-2 made it)
suppressMessages({library(psych); library(GPArotation); library(jsonlite)})
versions <- list(R=R.version.string, psych=as.character(packageVersion("psych")),
                 GPArotation=as.character(packageVersion("GPArotation")))
mat <- function(m) unname(unclass(as.matrix(m)))
fa_ref <- function(f) {
  list(loadings=mat(f$loadings), phi=if (is.null(f$Phi)) NULL else mat(f$Phi),
       factor_names=colnames(f$loadings),
       communality=unname(f$communality), uniquenesses=unname(f$uniquenesses),
       values=unname(f$values), e_values=unname(f$e.values), variance=mat(f$Vaccounted),
       variance_rows=rownames(f$Vaccounted),
       fit=list(objective=f$objective, chisq=f$STATISTIC, dof=f$dof, pvalue=f$PVAL,
                rmsea=unname(f$RMSEA[1]), rmsea_ci_lower=unname(f$RMSEA[2]), rmsea_ci_upper=unname(f$RMSEA[3]),
                tli=f$TLI, bic=f$BIC, null_chisq=f$null.chisq, null_dof=f$null.dof,
                empirical_chisq=f$chi, empirical_pvalue=f$EPVAL, empirical_bic=f$EBIC,
                rms=f$rms, crms=f$crms, fit=f$fit, fit_off=f$fit.off))
}
rot_ref <- function(r) list(loadings=mat(r$loadings), phi=if (is.null(r$Phi)) diag(ncol(r$loadings)) else mat(r$Phi))

hs <- read.csv("hs1939.csv")
x <- hs[, paste0("x", 1:9)]
lk <- read.csv("likert1500.csv")
items <- lk[, 1:18]

## EFA: every extraction method and rotation on the Holzinger-Swineford tests
hs_fa <- list(
  minres_oblimin_3=fa(x, 3, fm="minres", rotate="oblimin"),
  minres_varimax_3=fa(x, 3, fm="minres", rotate="varimax"),
  minres_promax_3=fa(x, 3, fm="minres", rotate="promax"),
  minres_quartimin_3=fa(x, 3, fm="minres", rotate="quartimin"),
  minres_geominQ_3=fa(x, 3, fm="minres", rotate="geominQ"),
  minres_none_3=fa(x, 3, fm="minres", rotate="none"),
  minres_oblimin_2=fa(x, 2, fm="minres", rotate="oblimin"),
  minres_1=fa(x, 1, fm="minres"),
  ml_oblimin_3=fa(x, 3, fm="ml", rotate="oblimin"),
  ml_varimax_3=fa(x, 3, fm="ml", rotate="varimax"),
  ml_1=fa(x, 1, fm="ml"),
  pa_oblimin_3=fa(x, 3, fm="pa", rotate="oblimin"),
  pa_varimax_3=fa(x, 3, fm="pa", rotate="varimax"),
  pa_1=fa(x, 1, fm="pa"),
  matrix_minres_oblimin_3=fa(cor(x), 3, n.obs=nrow(x), fm="minres", rotate="oblimin"))
hs_fa <- lapply(hs_fa, fa_ref)

## the rotations alone, applied to psych's unrotated 3-factor minres loadings
unrot <- fa(x, 3, fm="minres", rotate="none")$loadings
unrot <- unclass(unrot)
rotations <- list(unrotated=mat(unrot),
  oblimin=rot_ref(GPArotation::oblimin(unrot)),
  oblimin_gam05=rot_ref(GPArotation::oblimin(unrot, gam=0.5)),
  oblimin_normalized=rot_ref(GPArotation::oblimin(unrot, normalize=TRUE)),
  quartimin=rot_ref(GPArotation::quartimin(unrot)),
  geominQ=rot_ref(GPArotation::geominQ(unrot)),
  geominT=rot_ref(GPArotation::geominT(unrot)),
  varimax=list(loadings=mat(stats::varimax(unrot)$loadings), rotmat=mat(stats::varimax(unrot)$rotmat)),
  Promax=rot_ref(psych::Promax(unrot)),
  promax_kaiser=rot_ref(psych::kaiser(unrot, rotate="Promax")))

## dimensionality
set.seed(1); pa_lk <- fa.parallel(items, plot=FALSE, n.iter=20)
set.seed(1); pa_hs <- fa.parallel(x, plot=FALSE, n.iter=20)
v_hs <- vss(x, n=8, plot=FALSE); v_lk <- vss(items, n=8, plot=FALSE)
k_lk <- KMO(items); b_lk <- cortest.bartlett(items)
dimensionality <- list(
  hs_parallel=list(pc_values=pa_hs$pc.values, fa_values=pa_hs$fa.values, nfact=pa_hs$nfact, ncomp=pa_hs$ncomp),
  likert_parallel=list(pc_values=pa_lk$pc.values, fa_values=pa_lk$fa.values, nfact=pa_lk$nfact,
                       ncomp=pa_lk$ncomp),
  hs_map=list(map=v_hs$map, n_factors=which.min(v_hs$map)),
  likert_map=list(map=v_lk$map, n_factors=which.min(v_lk$map)),
  likert_kmo=list(overall=k_lk$MSA, items=as.list(k_lk$MSAi)),
  likert_bartlett=list(chisq=b_lk$chisq, df=b_lk$df, pvalue=b_lk$p.value))

## omega
om_ref <- function(o) list(omega_h=o$omega_h, omega_total=o$omega.tot, alpha=o$alpha, omega_lim=o$omega.lim,
                           sl=mat(o$schmid$sl), gloading=unname(as.vector(o$schmid$gloading)),
                           phi=mat(o$schmid$phi), oblique=mat(o$schmid$oblique), orthog=mat(o$schmid$orthog),
                           group=mat(o$omega.group))
omegas <- list(
  hs_3=om_ref(suppressWarnings(omega(x, nfactors=3, plot=FALSE))),
  hs_2=om_ref(suppressMessages(suppressWarnings(omega(x, nfactors=2, plot=FALSE)))),
  hs_3_ml=om_ref(suppressWarnings(omega(x, nfactors=3, fm="ml", plot=FALSE))),
  likert_3=om_ref(suppressWarnings(omega(items, nfactors=3, plot=FALSE))),
  conn_1=list(omega_total=suppressMessages(suppressWarnings(omega(items[, 1:6], nfactors=1, plot=FALSE)))$omega.tot))

## the likert sample has missing answers: pairwise-complete correlations, np.obs-weighted statistics
likert_fa <- list(minres_oblimin_3=fa_ref(fa(items, 3, fm="minres", rotate="oblimin")),
                  ml_promax_3=fa_ref(fa(items, 3, fm="ml", rotate="promax")),
                  pa_geominQ_3=fa_ref(fa(items, 3, fm="pa", rotate="geominQ")))

out <- list(versions=versions, hs_efa=hs_fa, rotations=rotations, dimensionality=dimensionality,
            omega=omegas, likert_efa=likert_fa)
write(toJSON(out, auto_unbox=TRUE, digits=NA, pretty=TRUE, null="null", na="null"), "efa_reference.json")
