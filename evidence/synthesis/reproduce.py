"""How a reader reproduces a pooled cell from the API alone: the R and Python examples that the
methods page and the API documentation show, and that the reproduction test runs as shown.

Each example is a function of one cell detail (`/api/v1/maps/<slug>/cells/<i>/<o>/`) that refits
the cell from its `pooled_effects` and its stated model and settings, then a few lines that
fetch a cell and call it. The Python example needs only numpy and scipy: it estimates τ² (and
ω²) itself with the stated method and computes the CR2 variance and Satterthwaite df as
clubSandwich does, so it mirrors the formulas of evidence.stats without importing it (partners
do not have it). It is one script: saved as a file, it takes a cell's URL and prints each
number next to the API's.
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

PYTHON_FUNCTION = r'''import json
import sys
from urllib.request import urlopen

import numpy as np
from scipy import optimize, stats

STEP_TOL = 1e-12  # iterate until no step moves a variance component by more than this × mean(vi)


def reproduce_cell(cell):
    """Refit a cell from its `pooled_effects` and stated settings alone."""
    es = cell["pooled_effects"]
    y = np.array([e["yi"] for e in es])
    v = np.array([e["vi"] for e in es])
    study = np.array([e["study_id"] for e in es])
    if cell["model"] == "CHE":
        return che(y, v, study, cell["rho"], cell["level"])
    return univariate(y, v, cell["method"], cell["test"], cell["level"])


# --- Univariate cells: metafor rma(yi, vi, method, test) -------------------------------------


def univariate(y, v, method, test, level):
    k = len(y)
    tau2 = 0.0 if k == 1 else estimate_tau2(y, v, method)
    w = 1 / (v + tau2)
    estimate = w @ y / w.sum()
    se = np.sqrt(1 / w.sum())
    df = None if test == "z" else k - 1
    if test == "knha":  # Hartung-Knapp-Sidik-Jonkman: variance scaled by the weighted RSS/(k - 1)
        rss = w @ (y - estimate) ** 2
        se *= np.sqrt(rss / (k - 1)) if rss > np.finfo(float).eps else 0.0
    q, trace_p = cochran_q(y, np.diag(v))
    fixed = method in ("EE", "FE")  # no random effect: I² from Q, and no prediction interval
    if k == 1:  # nothing to be heterogeneous
        q, i2 = 0.0, 0.0
    elif fixed:
        i2 = max(0.0, 100 * (q - (k - 1)) / q) if q > 0 else 0.0
    else:
        i2 = 100 * tau2 / (tau2 + (k - 1) / trace_p)
    pi_variance = None if fixed else tau2
    return summary(estimate, se, df, level, tau2, None, pi_variance, q, k, i2)


def estimate_tau2(y, v, method):
    """tau² by the map's estimator, as metafor's rma.uni computes it."""
    k = len(y)
    w = 1 / v
    q, trace_p = cochran_q(y, np.diag(v))
    if method in ("EE", "FE"):
        return 0.0
    if method == "DL":  # DerSimonian-Laird
        return max(0.0, (q - (k - 1)) / trace_p)
    if method == "HE":  # Hedges: unweighted method of moments
        return max(0.0, (np.sum((y - y.mean()) ** 2) - v.sum() * (1 - 1 / k)) / (k - 1))
    if method == "HS":  # Hunter-Schmidt
        return max(0.0, (q - k) / w.sum())
    if method == "SJ":  # Sidik-Jonkman: one step from the variance of y
        tau0 = np.mean((y - y.mean()) ** 2)
        return max(0.0, tau0 * cochran_q(y, np.diag(v + tau0))[0] / (k - 1))
    if method in ("PM", "EB"):  # Paule-Mandel (= empirical Bayes here): Q(tau²) = k - 1
        if q <= k - 1:
            return 0.0
        upper = 1.0
        while cochran_q(y, np.diag(v + upper))[0] > k - 1:
            upper *= 2
        return optimize.brentq(lambda t: cochran_q(y, np.diag(v + t))[0] - (k - 1), 0.0, upper,
                               xtol=1e-15, rtol=4 * np.finfo(float).eps)
    if method in ("ML", "REML"):  # Fisher scoring from the Hedges estimate, as metafor
        restricted = method == "REML"
        (tau2,) = maximise_likelihood(y, np.diag(v), [np.eye(k)], [estimate_tau2(y, v, "HE")], restricted)
        # metafor's check: tau² = 0 if the likelihood is higher there
        if log_likelihood(y, np.diag(v), restricted) > log_likelihood(y, np.diag(v + tau2), restricted) + 1e-12:
            return 0.0
        return tau2
    raise ValueError(f"unknown method {method}")


# --- CHE cells: metafor rma.mv(yi, V, random = ~ 1 | study / es), clubSandwich CR2 ----------


def che(y, v, study, rho, level):
    k = len(y)
    same = study[:, None] == study[None, :]
    sd = np.sqrt(v)
    V = np.where(same, rho * np.outer(sd, sd), 0.0)  # clubSandwich impute_covariance_matrix(r = rho)
    np.fill_diagonal(V, v)
    # REML for tau² (between studies: shared by a study's effect sizes) and omega² (within)
    spread = max(np.var(y), np.mean(v))
    tau2, omega2 = maximise_likelihood(y, V, [same * 1.0, np.eye(k)], [spread / 2, spread / 2], True)
    M = V + tau2 * same + omega2 * np.eye(k)
    W = np.linalg.inv(M)
    estimate = W.sum(axis=0) @ y / W.sum()
    se, df = cr2(y, M, study, estimate)
    q, trace_p = cochran_q(y, V)
    total = tau2 + omega2
    i2 = 100 * total / (total + (k - 1) / trace_p)  # total I² (Nakagawa & Santos)
    return summary(estimate, se, df, level, tau2, omega2, total, q, k, i2)


def cr2(y, M, study, estimate):
    """CR2 cluster-robust SE and Satterthwaite df of the weighted mean (clubSandwich
    coef_test(vcov = "CR2", test = "Satterthwaite"), working model M, weights M⁻¹)."""
    k = len(y)
    W = np.linalg.inv(M)
    S = W.sum()
    H = np.outer(np.ones(k), W.sum(axis=0)) / S  # hat matrix of the weighted mean
    clusters = np.unique(study)
    U = np.zeros((len(clusters), k))
    for j, c in enumerate(clusters):
        rows = np.flatnonzero(study == c)
        Mj = M[np.ix_(rows, rows)]
        root = matrix_power(Mj, 0.5)
        A = root @ matrix_power(root @ (Mj - 1 / S) @ root, -0.5) @ root  # Bell-McCaffrey adjustment
        U[j, rows] = A @ W[np.ix_(rows, rows)].sum(axis=1) / S
    se = np.sqrt(np.sum((U @ (y - estimate)) ** 2))
    G = U @ (np.eye(k) - H)
    Omega = G @ M @ G.T
    df = np.trace(Omega) ** 2 / np.sum(Omega**2)
    return se, df


# --- Shared pieces ------------------------------------------------------------------------------


def maximise_likelihood(y, V, parts, start, restricted):
    """Variance components theta >= 0 of M = V + sum(theta[a] * parts[a]) that maximise the
    restricted (REML) or full (ML) likelihood: Newton steps where the observed information is
    positive definite, Fisher scoring otherwise, halved while they lower the likelihood; a
    component at 0 whose score points below 0 stays there."""
    theta = np.array(start, dtype=float)
    tol = STEP_TOL * np.mean(np.diag(V))
    ll = log_likelihood(y, V + sum(t * Z for t, Z in zip(theta, parts)), restricted)
    for _ in range(1000):
        W = np.linalg.inv(V + sum(t * Z for t, Z in zip(theta, parts)))
        P = W - np.outer(W.sum(axis=1), W.sum(axis=0)) / W.sum()
        A = P if restricted else W
        r = P @ y
        score = np.array([r @ Z @ r - np.trace(A @ Z) for Z in parts])
        fisher = np.array([[np.trace(A @ Za @ A @ Zb) for Zb in parts] for Za in parts])
        observed = np.array([[2 * r @ Za @ P @ Zb @ r for Zb in parts] for Za in parts]) - fisher
        free = np.flatnonzero((theta > 0) | (score > 0))
        info = observed[np.ix_(free, free)]
        if np.any(np.linalg.eigvalsh(info) <= 0):
            info = fisher[np.ix_(free, free)]
        step = np.zeros_like(theta)
        step[free] = np.linalg.solve(info, score[free])
        for _ in range(60):
            new = np.maximum(theta + step, 0.0)
            new_ll = log_likelihood(y, V + sum(t * Z for t, Z in zip(new, parts)), restricted)
            if new_ll >= ll - 1e-12 * (1 + abs(ll)):
                break
            step /= 2
        if np.max(np.abs(new - theta)) <= tol:
            return new
        theta, ll = new, new_ll
    raise RuntimeError("the variance components did not converge")


def log_likelihood(y, M, restricted):
    """(Restricted) log-likelihood of the weighted mean at marginal covariance M, up to a constant."""
    W = np.linalg.inv(M)
    P = W - np.outer(W.sum(axis=1), W.sum(axis=0)) / W.sum()
    ll = -0.5 * (np.linalg.slogdet(M)[1] + y @ P @ y)
    return ll - 0.5 * np.log(W.sum()) if restricted else ll


def cochran_q(y, V):
    """Cochran's Q under the sampling covariance V, and tr(P) (the yardstick of I²)."""
    W = np.linalg.inv(V)
    P = W - np.outer(W.sum(axis=1), W.sum(axis=0)) / W.sum()
    return y @ P @ y, np.trace(P)


def matrix_power(A, p):
    values, vectors = np.linalg.eigh(A)
    return (vectors * values**p) @ vectors.T


def summary(estimate, se, df, level, tau2, omega2, pi_variance, q, k, i2):
    """Confidence and prediction intervals (z, or t on df), and Q's p-value."""
    tail = 1 - (1 - level) / 2
    crit = stats.norm.ppf(tail) if df is None else stats.t.ppf(tail, df)
    out = {"estimate": estimate, "se": se, "df": df,
           "ci_low": estimate - crit * se, "ci_high": estimate + crit * se,
           "tau2": tau2, "omega2": omega2, "pi_low": None, "pi_high": None,
           "q": q, "q_p": stats.chi2.sf(q, k - 1) if k > 1 else 1.0, "i2": i2}
    if pi_variance is not None:
        half = crit * np.sqrt(se**2 + pi_variance)
        out["pi_low"], out["pi_high"] = estimate - half, estimate + half
    return {name: None if value is None else float(value) for name, value in out.items()}
'''

PYTHON_USAGE = r"""if __name__ == "__main__":
    # python reproduce_cell.py CELL_URL, the URL of a cell's detail in the partner API
    url = sys.argv[1] if len(sys.argv) > 1 else "{cell_url}"
    cell = json.load(urlopen(url))
    for name, value in reproduce_cell(cell).items():
        print(f"{name:9} reproduced {value!s:>24}   API {cell[name]!s:>24}")
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
