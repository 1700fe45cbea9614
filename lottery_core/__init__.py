"""lottery_core: the small, tested library under "Lottery Tickets, Hands-On".

Pruning, masks, rewinding, training and the Xavier-scale analysis for the Lottery Ticket
Hypothesis (Frankle & Carbin, ICLR 2019). Importing the package has no side effects.
"""

from .analysis import (
    effective_fan_in,
    effective_fan_out,
    paired_differences,
    paired_interval,
    scale_table,
    sparse_glorot_std,
    subnetwork_scale,
    weight_movement,
    xavier_std,
)
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
from .oneshot import masked_accuracy, matching_mask, one_shot_sweep, prune_trained, train_one_shot
from .progress import progress_block, run_imp_with_progress
from .pruning import layer_rates_for, magnitude_prune, random_prune
from .report import (
    cache_dir,
    findings_markdown,
    load_recorded,
    metrics_path,
    output_dir,
    read_metrics,
    recorded_difference_table,
    recorded_findings,
    show_findings,
    write_metrics,
)
from .results import ImpResult, RoundRecord
from .rewind import reinitialize, rewind, snapshot
from .sweep import Experiment, SharedPathError, SweepResult, sweep
from .training import batch_order, train, train_batched

__version__ = "0.2.0"

__all__ = [
    "CONTROLS",
    "DATASETS",
    "DATASET_TITLES",
    "Dataset",
    "DatasetUnavailableError",
    "Evaluation",
    "Experiment",
    "ExperimentConfig",
    "History",
    "ImpResult",
    "MODELS",
    "Mask",
    "OFFLINE_DATASETS",
    "PRESETS",
    "RoundRecord",
    "SharedPathError",
    "SweepResult",
    "atomic_save",
    "batch_order",
    "build_model",
    "cache_dir",
    "check_controls",
    "control_init",
    "default_device",
    "effective_fan_in",
    "effective_fan_out",
    "findings_markdown",
    "get_preset",
    "glorot_init_",
    "layer_rates_for",
    "load_dataset",
    "load_recorded",
    "loss_and_accuracy",
    "magnitude_prune",
    "masked_accuracy",
    "matching_mask",
    "metrics_path",
    "one_shot_sweep",
    "output_dir",
    "output_layer_name",
    "paired_differences",
    "paired_interval",
    "progress_block",
    "prunable_parameters",
    "prune_trained",
    "random_prune",
    "read_metrics",
    "recorded_difference_table",
    "recorded_findings",
    "reinitialize",
    "rewind",
    "run_imp",
    "run_imp_with_progress",
    "safe_load",
    "scale_table",
    "show_findings",
    "snapshot",
    "sparse_glorot_std",
    "subnetwork_scale",
    "sweep",
    "train",
    "train_batched",
    "train_controls",
    "train_one_shot",
    "weight_movement",
    "write_metrics",
    "xavier_std",
]

__all__ += [
    "matching_mask",
    "masked_accuracy",
    "one_shot_sweep",
    "progress_block",
    "prune_trained",
    "run_imp_with_progress",
    "train_one_shot",
]
