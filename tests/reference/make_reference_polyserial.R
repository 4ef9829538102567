# Polyserial correlations (psych::polyserial) on likert1500: continuous = complete-case sum
# scores of the connection and shame items, ordinal = m1, m2, s1. Writes polyserial_reference.json.
# Run from tests/reference: Rscript make_reference_polyserial.R
suppressMessages({library(psych); library(jsonlite)})
d <- read.csv("likert1500.csv")
x <- data.frame(conn_sum = rowSums(d[, paste0("c", 1:6)]), shame_sum = rowSums(d[, paste0("s", 1:6)]))
y <- d[, c("m1", "m2", "s1")]
ps <- polyserial(x, y)
out <- list(versions = list(R = R.version.string, psych = as.character(packageVersion("psych"))),
            rows = rownames(ps), columns = colnames(ps), polyserial = unname(ps))
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "polyserial_reference.json")
