"""lottery_core: the small, tested library under "Lottery Tickets, Hands-On".

Pruning, masks, rewinding, training and the Xavier-scale analysis for the Lottery Ticket
Hypothesis (Frankle & Carbin, ICLR 2019). Importing the package has no side effects.

What the book's chapters need and nobody else (output folders, metrics files, figures, progress
display, each chapter's tables and claims) lives in ``lottery_core.book``, which this package never
imports.
"""

from .arms import ArmRun, snapshot_schedule, train_arms
from .checkpoint import atomic_save, safe_load
from .config import PRESETS, ExperimentConfig, get_preset
from .data import (
    DATASET_TITLES,
    DATASETS,
    OFFLINE_DATASETS,
    Dataset,
    DatasetUnavailableError,
    default_device,
    load_dataset,
)
from .history import Evaluation, History, loss_and_accuracy
from .imp import run_imp
from .masks import Mask, output_layer_name, prunable_parameters
from .models import MODELS, build_model, glorot_init_
from .pruning import layer_rates_for, magnitude_prune, random_prune
from .results import ImpResult, RoundRecord
from .rewind import reinitialize, rewind, snapshot
from .saliency import (
    KEEP,
    MASK_CRITERIA,
    PRUNE_AT_INIT,
    grasp_scores,
    magnitude_scores,
    mask_from_scores,
    prune_at_init,
    snip_scores,
    synflow_mask,
    synflow_scores,
    trained_scores,
)
from .scale import (
    effective_fan_in,
    effective_fan_out,
    gaussian_selection_ceiling,
    kept_init_shape,
    kept_rms,
    movement_null,
    rms_trajectory,
    scale_table,
    selection_ceiling_scale,
    sparse_glorot_std,
    subnetwork_scale,
    weight_movement,
    xavier_std,
)
from .stability import (
    STABLE_THRESHOLD,
    Instability,
    copy_seeds,
    error_barrier,
    instability,
    instability_curve,
    interpolate,
    interpolation_alphas,
    linear_path,
    rewind_points,
    train_copies,
)
from .starts import ARM_LABELS, CONTROLS, arm_init, arm_label, check_arms, scaled_arm
from .stats import (
    EQUIVALENCE_MARGIN,
    Interval,
    binomial_se,
    gap_closed,
    paired_differences,
    paired_interval,
    ratio_interval,
)
from .sweep import Experiment, SharedPathError, SweepResult, sweep
from .training import batch_order, train, train_batched

__version__ = "0.4.1"

__all__ = [
    # data, models, configs
    "DATASETS", "DATASET_TITLES", "OFFLINE_DATASETS", "Dataset", "DatasetUnavailableError", "default_device",
    "load_dataset", "MODELS", "build_model", "glorot_init_", "PRESETS", "ExperimentConfig", "get_preset",
    # masks, pruning, rewinding, named starts
    "Mask", "output_layer_name", "prunable_parameters", "layer_rates_for", "magnitude_prune", "random_prune",
    "reinitialize", "rewind", "snapshot", "ARM_LABELS", "CONTROLS", "arm_init", "arm_label", "check_arms",
    "scaled_arm",
    # training, histories, IMP and its arms
    "batch_order", "train", "train_batched", "Evaluation", "History", "loss_and_accuracy", "ImpResult", "RoundRecord",
    "run_imp", "ArmRun", "snapshot_schedule", "train_arms", "atomic_save", "safe_load",
    # statistics
    "EQUIVALENCE_MARGIN", "Interval", "binomial_se", "gap_closed", "paired_differences",
    "paired_interval", "ratio_interval",
    # the Xavier-scale analysis
    "effective_fan_in", "effective_fan_out", "gaussian_selection_ceiling", "kept_init_shape", "kept_rms",
    "movement_null", "rms_trajectory", "scale_table", "selection_ceiling_scale", "sparse_glorot_std",
    "subnetwork_scale", "weight_movement", "xavier_std",
    # instability analysis
    "STABLE_THRESHOLD", "Instability", "copy_seeds", "error_barrier", "instability", "instability_curve",
    "interpolate", "interpolation_alphas", "linear_path", "rewind_points", "train_copies",
    # pruning at initialisation
    "KEEP", "MASK_CRITERIA", "PRUNE_AT_INIT", "grasp_scores", "magnitude_scores",
    "mask_from_scores", "prune_at_init", "snip_scores", "synflow_mask", "synflow_scores", "trained_scores",
    # optional: sweeps
    "Experiment", "SharedPathError", "SweepResult", "sweep",
]
