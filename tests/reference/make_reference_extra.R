# Extra reference outputs for rctscale's correlation and reliability conformance tests, beyond
# what make_reference.R (copied from ../shared/reference) produces.
# Needs: apt-get install r-base-core r-cran-psych r-cran-jsonlite (lme4 comes with psych's suggests)
# Run from this folder: Rscript make_reference_extra.R
# Writes extra_reference.json and nonpd_pairs.csv (a small data set built to be non-positive-definite).
suppressMessages({library(psych); library(jsonlite)})
versions <- list(R=R.version.string, psych=as.character(packageVersion("psych")))
catch_warnings <- function(expr) {
  msgs <- character(0)
  value <- withCallingHandlers(expr, warning=function(w) {msgs <<- c(msgs, conditionMessage(w))
                                                          invokeRestart("muffleWarning")})
  list(value=value, warnings=unique(msgs))
}
alpha_full <- function(x, ...) {
  a <- psych::alpha(x, warnings=FALSE, ...)
  list(raw_alpha=a$total$raw_alpha, std_alpha=a$total$std.alpha, average_r=a$total$average_r,
       g6=a$total[["G6(smc)"]], feldt_ci=unname(c(a$feldt$lower.ci, a$feldt$upper.ci)),
       items=rownames(a$item.stats), n=a$item.stats$n,
       r_drop=a$item.stats$r.drop, mean=a$item.stats$mean, sd=a$item.stats$sd,
       alpha_if_dropped=a$alpha.drop$raw_alpha)
}
split_ref <- function(x) {
  s <- splitHalf(x)
  list(max=s$maxrb, min=s$minrb, mean=s$meanr, alpha=s$alpha, lambda2=s$lambda2, lambda6=s$lambda6,
       av_r=s$av.r, med_r=s$med.r)
}
icc_ref <- function(x, lmer) {
  res <- ICC(x, lmer=lmer)$results
  list(type=res$type, icc=res$ICC, F=res$F, df1=res$df1, df2=res$df2, p=res$p,
       lower=res[["lower bound"]], upper=res[["upper bound"]])
}

hs <- read.csv("hs1939.csv"); x9 <- hs[, paste0("x", 1:9)]
lk <- read.csv("likert1500.csv"); items <- lk[, 1:18]

# 1. Polychoric, psych's per-pair path (global = FALSE) with the continuity correction:
#    the first 80 respondents, items c1-c6, with c6's top category merged into the one below.
sparse <- items[1:80, 1:6]; sparse$c6[sparse$c6 == 5] <- 4
pc_sparse <- catch_warnings(polychoric(sparse))
pc_sparse0 <- catch_warnings(polychoric(sparse, correct=0))

# 1b. Polychoric, global path with an unused lowest category: c1's answers of 1 recoded to 2,
#     so c1's first threshold is -Inf (every item still reaches 5, so psych stays global).
gap <- items[, 1:6]; gap$c1[!is.na(gap$c1) & gap$c1 == 1] <- 2
pc_gap <- catch_warnings(polychoric(gap))

# 1c. Polychoric of two-category items (psych computes tetrachoric correlations this way), coded
#     0/1: the Likert items c1-m6 split at 4 or more, missing answers kept.
binary <- as.data.frame(lapply(items[, 1:12], function(v) as.integer(v >= 4)))
pc_binary <- catch_warnings(polychoric(binary))

# 2. Polychoric smoothing: three 4-category items answered in pairs by three groups of 150, with
#    a ~ b and b ~ c strongly positive but a ~ c strongly negative, so the pairwise matrix is
#    not positive definite and psych::cor.smooth steps in.
set.seed(20240601)
block <- function(n, r) MASS::mvrnorm(n, c(0, 0), matrix(c(1, r, r, 1), 2))
cut4 <- function(z) as.integer(cut(z, c(-Inf, -0.8, 0, 0.8, Inf)))
nonpd <- data.frame(a=rep(NA_integer_, 450), b=NA_integer_, c=NA_integer_)
z <- block(150, 0.8);  nonpd$a[1:150] <- cut4(z[, 1]);   nonpd$b[1:150] <- cut4(z[, 2])
z <- block(150, 0.8);  nonpd$b[151:300] <- cut4(z[, 1]); nonpd$c[151:300] <- cut4(z[, 2])
z <- block(150, -0.8); nonpd$a[301:450] <- cut4(z[, 1]); nonpd$c[301:450] <- cut4(z[, 2])
write.csv(nonpd, "nonpd_pairs.csv", row.names=FALSE, na="")
pc_nonpd <- catch_warnings(polychoric(nonpd))
pc_nonpd_raw <- polychoric(nonpd, smooth=FALSE)$rho

# 3. Ordinal alpha (Zumbo, Gadermann & Zeisser 2007): alpha of the polychoric matrix.
ordinal <- lapply(list(conn=1:6, mutu=7:12, shame=13:18), function(j) {
  a <- psych::alpha(polychoric(items[, j])$rho, warnings=FALSE)
  list(alpha=a$total$raw_alpha, std_alpha=a$total$std.alpha, average_r=a$total$average_r,
       r_drop=a$item.stats$r.drop, alpha_if_dropped=a$alpha.drop$raw_alpha)
})

# 4. Alpha with reverse keys (all 18 Likert items, the shame items reversed) and item statistics.
alpha_keyed <- alpha_full(items, keys=paste0("s", 1:6))
alpha_visual <- alpha_full(x9[, 1:3])
alpha_conn <- alpha_full(items[, 1:6])

# 5. Split-half (psych::splitHalf, all splits for <= 16 items) and Guttman's lambda 6.
#    psych 2.2.9 tries only the first choose(k, k %/% 2) / 2 first halves in combn's order: every
#    split when k is even, but only some when k is odd. psych 2.3.12 (10/21/23, "a problem with
#    odd values") tries them all. split_all_splits patches that one line of 2.2.9's splitHalf, so
#    the 9-item reference is the corrected algorithm; the unpatched result is kept for the record.
splitHalf_all <- psych::splitHalf
patched <- sub("count <- round(choose(n, m))/2", "count <- round(choose(n, m))",
               deparse(body(psych::splitHalf)), fixed=TRUE)
stopifnot(!identical(patched, deparse(body(psych::splitHalf))))
body(splitHalf_all) <- parse(text=patched)[[1]]
split_all_splits <- function(x) {
  s <- splitHalf_all(x)
  list(max=s$maxrb, min=s$minrb, mean=s$meanr, alpha=s$alpha, lambda2=s$lambda2, lambda6=s$lambda6,
       av_r=s$av.r, med_r=s$med.r)
}
split_x9 <- split_all_splits(x9)
split_x9_psych229 <- split_ref(x9)
split_conn <- split_all_splits(items[, 1:6])

# 6. ICC: Shrout & Fleiss (1979) table 2 data, 6 targets x 4 judges, and the HS visual tests.
sf <- matrix(c(9,2,5,8, 6,1,3,2, 8,4,6,8, 7,1,2,6, 10,5,6,9, 6,2,4,7), ncol=4, byrow=TRUE)
icc_sf_aov <- icc_ref(sf, lmer=FALSE)
icc_sf_lmer <- icc_ref(sf, lmer=TRUE)
icc_hs <- icc_ref(x9[, 1:3], lmer=FALSE)

# 7. Pairwise-complete Pearson correlations of the Likert items (which have missing answers).
pearson_lk <- unname(cor(items, use="pairwise"))

extra <- list(versions=versions,
  polychoric_sparse=list(items=colnames(sparse), rows="likert1500.csv rows 1-80, c6: 5 -> 4",
                         rho=unname(pc_sparse$value$rho), warnings=pc_sparse$warnings,
                         rho_correct0=unname(pc_sparse0$value$rho)),
  polychoric_gap=list(items=colnames(gap), rows="likert1500.csv items c1-c6, c1: 1 -> 2",
                      rho=unname(pc_gap$value$rho), tau=unname(pc_gap$value$tau), warnings=pc_gap$warnings),
  polychoric_binary=list(items=colnames(binary), rows="likert1500.csv items c1-m6, 1 if 4 or more else 0",
                         rho=unname(pc_binary$value$rho), tau=unname(pc_binary$value$tau),
                         warnings=pc_binary$warnings),
  polychoric_nonpd=list(items=colnames(nonpd), rho=unname(pc_nonpd$value$rho), rho_unsmoothed=unname(pc_nonpd_raw),
                        tau=unname(pc_nonpd$value$tau), warnings=pc_nonpd$warnings),
  ordinal_alpha=ordinal,
  alpha_keyed_shame=alpha_keyed, alpha_visual_items=alpha_visual, alpha_conn_items=alpha_conn,
  split_half_x1_x9=split_x9, split_half_x1_x9_psych229=split_x9_psych229, split_half_conn=split_conn,
  icc_shrout_fleiss_aov=icc_sf_aov, icc_shrout_fleiss_lmer=icc_sf_lmer, icc_hs_visual_aov=icc_hs,
  pearson_likert=list(items=colnames(items), r=pearson_lk))
write(toJSON(extra, auto_unbox=TRUE, digits=NA, pretty=TRUE, na="null"), "extra_reference.json")
