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
from .batched import train_batched
from .checkpoint import atomic_save, safe_load
from .config import PRESETS, ExperimentConfig, get_preset
from .controls import CONTROLS, control_init
from .data import (
    DATASET_TITLES,
    DATASETS,
    OFFLINE_DATASETS,
    Dataset,
    DatasetUnavailableError,
    default_device,
    load_dataset,
)
from .imp import ImpResult, RoundRecord, run_imp, train_controls
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
    recorded_difference_table,
    recorded_findings,
    show_findings,
    write_metrics,
)
from .rewind import reinitialize, rewind, snapshot
from .sweep import Experiment, SharedPathError, SweepResult, sweep
from .training import Evaluation, History, batch_order, train

__version__ = "0.2.0"

__all__ = [
    "findings_markdown",
    "load_recorded",
    "recorded_difference_table",
    "recorded_findings",
    "CONTROLS",
    "DATASET_TITLES",
    "DATASETS",
    "MODELS",
    "OFFLINE_DATASETS",
    "PRESETS",
    "Dataset",
    "DatasetUnavailableError",
    "Evaluation",
    "Experiment",
    "ExperimentConfig",
    "History",
    "ImpResult",
    "Mask",
    "RoundRecord",
    "SharedPathError",
    "SweepResult",
    "atomic_save",
    "batch_order",
    "build_model",
    "cache_dir",
    "control_init",
    "default_device",
    "effective_fan_in",
    "effective_fan_out",
    "get_preset",
    "glorot_init_",
    "layer_rates_for",
    "load_dataset",
    "magnitude_prune",
    "metrics_path",
    "output_layer_name",
    "output_dir",
    "paired_differences",
    "paired_interval",
    "prunable_parameters",
    "random_prune",
    "reinitialize",
    "rewind",
    "run_imp",
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
