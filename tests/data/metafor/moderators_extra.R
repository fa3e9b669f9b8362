# Reference values for cases the shared moderator files do not cover: several moderators,
# a categorical level with one study, missing moderator values, and clustered fits with a
# categorical moderator (HTZ test of two coefficients). Run from this folder:
#   Rscript moderators_extra.R > moderators_extra.json
suppressMessages({library(metafor); library(clubSandwich); library(jsonlite)})
ctrl <- list(threshold = 1e-12, maxiter = 10000)
bcg <- fromJSON("moderators_bcg.json")
yi <- bcg$input$yi; vi <- bcg$input$vi; m <- bcg$input$moderators
uni <- function(fit) list(b = unname(c(coef(fit))), se = fit$se, stat = fit$zval, pval = fit$pval,
  ci.lb = fit$ci.lb, ci.ub = fit$ci.ub, QM = fit$QM, QMp = fit$QMp, QE = fit$QE, QEp = fit$QEp,
  tau2 = fit$tau2, I2 = fit$I2, R2 = if (is.null(fit$R2)) NA else fit$R2, k = fit$k)
out <- list()
out$ablat_year_REML_z <- uni(rma(yi, vi, mods = ~ m$ablat + m$year, method = "REML", control = ctrl))
out$ablat_alloc_REML_knha <- uni(rma(yi, vi, mods = ~ m$ablat + factor(m$alloc), method = "REML",
                                     test = "knha", control = ctrl))
# "alternate" becomes a level with a single study; one year missing.
alloc1 <- m$alloc; alloc1[5] <- "random"
out$alloc_single_REML_z <- uni(rma(yi, vi, mods = ~ factor(alloc1), method = "REML", control = ctrl))
year_na <- m$year; year_na[c(2, 7)] <- NA
out$year_missing_REML_z <- suppressWarnings(uni(rma(yi, vi, mods = ~ year_na, method = "REML",
                                                     control = ctrl)))
# A restricted likelihood with two local maxima (0 and an inner one, the higher): metafor's
# Fisher scoring from the Hedges start stops at the inner one.
two_y <- c(0.39924336124839721, 0.68412345800983432, -0.33607666592107793, 0.46571238116355823, 0.38893295297755798, 0.092968289454514144)
two_v <- c(0.019595208361149762, 0.057755438905353354, 0.094241160844650687, 0.11743113859374971, 0.024989746819982145, 0.082818307568220756)
two <- rma(two_y, two_v, method = "REML", control = ctrl)
two_zero <- rma(two_y, two_v, method = "REML", tau2 = 0)
out$two_maxima <- list(yi = two_y, vi = two_v, tau2 = two$tau2, b = unname(c(coef(two))), se = two$se,
                       ll = c(logLik(two)), ll_zero = c(logLik(two_zero)))
out$input <- list(alloc_single = alloc1, year_missing = year_na)

k11 <- fromJSON("moderators_konstantopoulos2011.json")$input
dat <- data.frame(yi = k11$yi, vi = k11$vi, cluster = k11$cluster, year = k11$moderators$year)
dat$esid <- seq_len(nrow(dat))
dat$era <- ifelse(dat$year < 1980, "early", ifelse(dat$year < 1995, "middle", "late"))
clus <- function(fit, dat, rho) {
  ct <- coef_test(fit, vcov = "CR2", cluster = dat$cluster)
  p <- length(coef(fit))
  wt <- Wald_test(fit, constraints = constrain_zero(2:p), vcov = "CR2", test = "HTZ",
                  cluster = dat$cluster)
  list(b = unname(c(coef(fit))), sigma2 = fit$sigma2, se_CR2 = ct$SE, tstat = ct$tstat,
       df_Satt = ct$df_Satt, p_Satt = ct$p_Satt,
       wald_HTZ = list(Fstat = wt$Fstat, df_num = wt$df_num, df_denom = wt$df_denom, p_val = wt$p_val))
}
mv_ctrl <- list(rel.tol = 1e-12, eval.max = 10000, iter.max = 10000)
V8 <- impute_covariance_matrix(dat$vi, dat$cluster, r = 0.8)
out$che_era <- clus(rma.mv(yi, V8, mods = ~ era, random = ~ 1 | cluster/esid, data = dat,
                          control = mv_ctrl), dat, 0.8)
out$che_era_year <- clus(rma.mv(yi, V8, mods = ~ era + I(year - 1990), random = ~ 1 | cluster/esid,
                               data = dat, control = mv_ctrl), dat, 0.8)
out$three_level_year <- clus(rma.mv(yi, vi, mods = ~ I(year - 1990), random = ~ 1 | cluster/esid,
                                   data = dat, control = mv_ctrl), dat, 0)
out$clustered_input <- list(era = dat$era)
out$generated_with <- list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                           clubSandwich = as.character(packageVersion("clubSandwich")))
cat(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE))
