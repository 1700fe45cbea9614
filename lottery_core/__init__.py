"""lottery_core: the small, tested library under "Lottery Tickets, Hands-On".

Pruning, masks, rewinding, training and the Xavier-scale analysis for the Lottery Ticket
Hypothesis (Frankle & Carbin, ICLR 2019). Importing the package has no side effects.
"""

from .analysis import (
    effective_fan_in,
    effective_fan_out,
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
from .pruning import layer_rates_for, magnitude_prune, random_prune
from .report import cache_dir, metrics_path, output_dir, show_findings, write_metrics
from .rewind import reinitialize, rewind, snapshot
from .training import Evaluation, History, batch_order, train

__version__ = "0.1.0"

__all__ = [
    "CONTROLS",
    "DATASET_TITLES",
    "DATASETS",
    "MODELS",
    "OFFLINE_DATASETS",
    "PRESETS",
    "Dataset",
    "DatasetUnavailableError",
    "Evaluation",
    "ExperimentConfig",
    "History",
    "ImpResult",
    "Mask",
    "RoundRecord",
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
    "train",
    "train_batched",
    "train_controls",
    "weight_movement",
    "write_metrics",
    "xavier_std",
]

# Chapters 5 to 7 and the conclusion: the arms of the √10 experiment, movement and RMS analysis, verdict text.
from .analysis import (  # noqa: E402
    arm_differences,
    dead_units,
    dead_units_at_rewind,
    gap_closed,
    gaussian_selection_ceiling,
    kept_init_shape,
    kept_init_shape_by_seed,
    kept_rms,
    movement_by_seed,
    movement_null,
    movement_summary,
    ratio_interval,
    rms_summary,
    rms_trajectory,
    select_rounds_on_validation,
    selection_ceiling_scale,
    ticket_scales,
)
from .arms import (  # noqa: E402
    ArmRun,
    arm_init,
    arm_label,
    rewinding_curves,
    rewinding_frame,
    scaled_arm,
    snapshot_schedule,
    train_arms,
)
from .report import (  # noqa: E402
    by_density,
    format_ratio,
    interval_text,
    interval_word,
    words_by_density,
)

__all__ += [
    "arm_differences",
    "arm_init",
    "arm_label",
    "ArmRun",
    "by_density",
    "dead_units",
    "dead_units_at_rewind",
    "format_ratio",
    "gap_closed",
    "gaussian_selection_ceiling",
    "interval_text",
    "interval_word",
    "kept_init_shape",
    "kept_init_shape_by_seed",
    "kept_rms",
    "movement_by_seed",
    "movement_null",
    "movement_summary",
    "ratio_interval",
    "rewinding_curves",
    "rewinding_frame",
    "rms_summary",
    "rms_trajectory",
    "scaled_arm",
    "select_rounds_on_validation",
    "selection_ceiling_scale",
    "snapshot_schedule",
    "ticket_scales",
    "train_arms",
    "words_by_density",
]
