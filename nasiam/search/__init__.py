"""Search strategies over the head spaces (pure PyTorch): the search policy, and the search
driver (when to step, the replay of recent batches, the noise verdict) that `nasiam search` and
the Lightning callback share; the DARTS architecture step (first/second order, Gumbel via the
heads' sampling mode), the decisions' noise floor and their agreement across seeds, the
Beta-Decay regulariser, the collapse monitor and the schedules. The multi-trial strategies
(TPE, random) need Optuna and live above the core, in `nasiam.runner.multi_trial`."""
from nasiam.search.architect import Architect, ArchitectureOptimizer, requires_grad
from nasiam.search.decisions import (
    chance_agreement,
    decision_agreement,
    decision_confidence,
    decision_report,
    fall_back_to_prior,
    head_probabilities,
    probability_metrics,
    near_uniform,
    noise_floor,
)
from nasiam.search.driver import ARCH_METRICS, NoiseVerdict, SearchDriver, noise_verdict, training_progress
from nasiam.search.monitor import CollapseMonitor, CollapseReport, effective_rank, normalized_std
from nasiam.search.policy import SearchPolicy
from nasiam.search.regularizers import beta_decay
from nasiam.search.schedules import cosine, gumbel_tau, momentum_schedule, warmup_cosine_lr

__all__ = ["Architect", "ArchitectureOptimizer", "SearchDriver", "SearchPolicy", "requires_grad",
           "ARCH_METRICS", "NoiseVerdict", "noise_verdict", "training_progress",
           "chance_agreement", "decision_agreement", "decision_confidence", "decision_report", "fall_back_to_prior",
           "head_probabilities", "near_uniform", "noise_floor", "probability_metrics",
           "CollapseMonitor", "CollapseReport", "effective_rank", "normalized_std",
           "beta_decay", "cosine", "gumbel_tau", "momentum_schedule", "warmup_cosine_lr"]
