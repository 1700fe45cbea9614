"""lottery_core: the small, tested library under "Lottery Tickets, Hands-On".

Pruning, masks, rewinding, training and the Xavier-scale analysis for the Lottery Ticket
Hypothesis (Frankle & Carbin, ICLR 2019). Importing the package has no side effects.

What the book's chapters need and nobody else (output folders, metrics files, figures, progress
display, each chapter's tables and claims) lives in ``lottery_core.book``, which this package never
imports.
"""

from .arms import ARM_LABELS, ArmRun, arm_init, arm_label, scaled_arm, snapshot_schedule, train_arms, train_configured
from .checkpoint import atomic_save, safe_load
from .config import PRESETS, ExperimentConfig, get_preset
from .controls import CONTROLS, check_controls, control_init
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
from .imp import run_imp, train_controls
from .masks import Mask, output_layer_name, prunable_parameters
from .models import MODELS, build_model, glorot_init_
from .pruning import layer_rates_for, magnitude_prune, random_prune
from .results import ImpResult, RoundRecord
from .rewind import reinitialize, rewind, snapshot
from .saliency import (
    KEEP,
    MASK_CRITERIA,
    PRUNE_AT_INIT,
    exponential_schedule,
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
from .stats import (
    EQUIVALENCE_MARGIN,
    Interval,
    arm_differences,
    binomial_se,
    gap_closed,
    paired_differences,
    paired_interval,
    ratio_interval,
)
from .sweep import Experiment, SharedPathError, SweepResult, sweep
from .training import batch_order, train, train_batched

__version__ = "0.2.0"

__all__ = [
    "ARM_LABELS",
    "ArmRun",
    "CONTROLS",
    "DATASETS",
    "DATASET_TITLES",
    "Dataset",
    "DatasetUnavailableError",
    "EQUIVALENCE_MARGIN",
    "Evaluation",
    "Experiment",
    "ExperimentConfig",
    "History",
    "ImpResult",
    "Interval",
    "MODELS",
    "Mask",
    "OFFLINE_DATASETS",
    "PRESETS",
    "RoundRecord",
    "SharedPathError",
    "SweepResult",
    "arm_differences",
    "arm_init",
    "arm_label",
    "atomic_save",
    "batch_order",
    "binomial_se",
    "build_model",
    "check_controls",
    "control_init",
    "default_device",
    "effective_fan_in",
    "effective_fan_out",
    "gap_closed",
    "gaussian_selection_ceiling",
    "get_preset",
    "glorot_init_",
    "kept_init_shape",
    "kept_rms",
    "layer_rates_for",
    "load_dataset",
    "loss_and_accuracy",
    "magnitude_prune",
    "movement_null",
    "output_layer_name",
    "paired_differences",
    "paired_interval",
    "prunable_parameters",
    "random_prune",
    "ratio_interval",
    "reinitialize",
    "rewind",
    "rms_trajectory",
    "run_imp",
    "safe_load",
    "scale_table",
    "scaled_arm",
    "selection_ceiling_scale",
    "snapshot",
    "snapshot_schedule",
    "sparse_glorot_std",
    "subnetwork_scale",
    "sweep",
    "train",
    "train_arms",
    "train_batched",
    "train_configured",
    "train_controls",
    "weight_movement",
    "xavier_std",
    "KEEP",
    "MASK_CRITERIA",
    "PRUNE_AT_INIT",
    "exponential_schedule",
    "grasp_scores",
    "magnitude_scores",
    "mask_from_scores",
    "prune_at_init",
    "snip_scores",
    "synflow_mask",
    "synflow_scores",
    "trained_scores",
    "Instability",
    "STABLE_THRESHOLD",
    "copy_seeds",
    "error_barrier",
    "instability",
    "instability_curve",
    "interpolate",
    "interpolation_alphas",
    "linear_path",
    "rewind_points",
    "train_copies",
]
