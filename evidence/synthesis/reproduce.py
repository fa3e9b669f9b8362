"""How a reader reproduces a pooled cell from the API alone: the R and Python examples that the
methods page and the API documentation show, and that the reproduction test runs as shown.

Each example is a function of one cell detail (`/api/v1/maps/<slug>/cells/<i>/<o>/`) that refits
the cell from its `pooled_effects` and its stated model and settings, then a few lines that
fetch a cell and call it.
"""

from __future__ import annotations

# metafor's default stopping rules (rma.uni: |Δτ²| < 1e-5; rma.mv: nlminb's relative function
# tolerance 1e-10) stop before the portal's (see a cell's `tolerance`), which is visible in the
# 4th to 6th decimal of τ² and in the Satterthwaite df; these settings solve as tightly as it.
R_FUNCTION = r"""library(jsonlite)
library(metafor)
library(clubSandwich)

reproduce_cell <- function(cell) {
  es <- cell$pooled_effects
  if (cell$model == "CHE") {
    # Sampling covariance imputed with the cell's rho, then REML for the study and
    # effect-size levels, then CR2 cluster-robust inference with Satterthwaite df.
    V <- impute_covariance_matrix(es$vi, cluster = es$study_id, r = cell$rho, return_list = FALSE)
    fit <- rma.mv(yi, V, random = ~ 1 | study_id / effect_size_id, data = es, method = "REML",
                  control = list(optimizer = "optim", optmethod = "Nelder-Mead",
                                 reltol = 1e-15, maxit = 100000))
    robust <- coef_test(fit, vcov = "CR2", cluster = es$study_id, test = "Satterthwaite")
    b <- fit$b[1]; se <- robust$SE[1]; df <- robust$df_Satt[1]
    q <- qt(1 - (1 - cell$level) / 2, df)
    total <- sum(fit$sigma2)
    W <- solve(V); one <- matrix(1, nrow(es))
    P <- W - W %*% one %*% t(one) %*% W / sum(W)
    list(estimate = b, se = se, df = df, ci_low = b - q * se, ci_high = b + q * se,
         tau2 = fit$sigma2[1], omega2 = fit$sigma2[2],
         pi_low = b - q * sqrt(se^2 + total), pi_high = b + q * sqrt(se^2 + total),
         q = fit$QE, q_p = fit$QEp,
         i2 = 100 * total / (total + (nrow(es) - 1) / sum(diag(P))))
  } else {
    fit <- rma(yi, vi, data = es, method = cell$method, test = cell$test,
               level = 100 * cell$level, control = list(threshold = 1e-12, tol = 1e-12, maxiter = 10000))
    pred <- predict(fit)
    list(estimate = fit$b[1], se = fit$se, df = if (is.null(cell$df)) NULL else fit$dfs,
         ci_low = fit$ci.lb, ci_high = fit$ci.ub, tau2 = fit$tau2, omega2 = NULL,
         pi_low = pred$pi.lb, pi_high = pred$pi.ub, q = fit$QE, q_p = fit$QEp, i2 = fit$I2)
  }
}
"""

R_USAGE = r"""cell <- fromJSON("{cell_url}")
str(reproduce_cell(cell))   # compare with cell$estimate, cell$ci_low, cell$tau2, ...
"""

PYTHON_FUNCTION = r"""import json
from urllib.request import urlopen

import numpy as np
from scipy import stats


def reproduce_cell(cell):
    # The cell's mean, I², Q and intervals at its stated variance components (the CR2 se
    # of CHE cells is clubSandwich's: see the R example).
    es = cell["pooled_effects"]
    yi = np.array([e["yi"] for e in es])
    vi = np.array([e["vi"] for e in es])
    study = np.array([e["study_id"] for e in es])
    k = len(es)
    if cell["model"] == "CHE":  # V imputed with rho; tau2 within a study, omega2 on the diagonal
        same = study[:, None] == study[None, :]
        sd = np.sqrt(vi)
        V = np.where(same, cell["rho"] * np.outer(sd, sd), 0.0)
        np.fill_diagonal(V, vi)
        components = cell["tau2"] + cell["omega2"]
        M = V + cell["tau2"] * same + cell["omega2"] * np.eye(k)
    else:
        V = np.diag(vi)
        components = cell["tau2"]
        M = V + components * np.eye(k)
    W = np.linalg.inv(M)
    estimate = W.sum(axis=0) @ yi / W.sum()
    Vinv = np.linalg.inv(V)
    P = Vinv - np.outer(Vinv.sum(axis=0), Vinv.sum(axis=0)) / Vinv.sum()
    # I² as i2_definition says (EE cells use Q instead); one effect size has none.
    i2 = 100 * components / (components + (k - 1) / np.trace(P)) if k > 1 else 0.0
    tail = 1 - (1 - cell["level"]) / 2
    crit = stats.norm.ppf(tail) if cell["df"] is None else stats.t.ppf(tail, cell["df"])
    half_ci = crit * cell["se"]
    half_pi = crit * np.sqrt(cell["se"] ** 2 + components)
    return {
        "estimate": estimate, "ci_low": estimate - half_ci, "ci_high": estimate + half_ci,
        "pi_low": estimate - half_pi, "pi_high": estimate + half_pi, "i2": i2, "q": yi @ P @ yi,
    }
"""

PYTHON_USAGE = r"""cell = json.load(urlopen("{cell_url}"))
print(reproduce_cell(cell))  # compare with cell["estimate"], cell["ci_low"], cell["i2"], ...
"""


def r_example(cell_url: str) -> str:
    """The R example for the cell at `cell_url` (the function, then how to call it)."""
    return R_FUNCTION + "\n" + R_USAGE.replace("{cell_url}", cell_url)


def python_example(cell_url: str) -> str:
    """The Python example for the cell at `cell_url` (the function, then how to call it)."""
    return PYTHON_FUNCTION + "\n\n" + PYTHON_USAGE.replace("{cell_url}", cell_url)


def examples(cells_url: str) -> dict[str, str]:
    """Both examples for a cell of the map whose API cell list is at `cells_url` (the reader
    puts in the cell's ids), as the methods page and the API documentation show them."""
    cell_url = f"{cells_url}INTERVENTION_ID/OUTCOME_ID/"
    return {"r_example": r_example(cell_url), "python_example": python_example(cell_url)}
