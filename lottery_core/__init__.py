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
from .report import cache_dir, metrics_path, output_dir, read_metrics, show_findings, write_metrics
from .results import ImpResult, RoundRecord
from .rewind import reinitialize, rewind, snapshot
from .training import batch_order, train, train_batched

__version__ = "0.1.0"

__all__ = [
    "CONTROLS", "DATASET_TITLES", "DATASETS", "MODELS", "OFFLINE_DATASETS", "PRESETS", "Dataset",
    "DatasetUnavailableError", "Evaluation", "ExperimentConfig", "History", "ImpResult", "Mask", "RoundRecord",
    "atomic_save", "batch_order", "build_model", "cache_dir", "check_controls", "control_init",
    "default_device", "effective_fan_in", "effective_fan_out", "get_preset", "glorot_init_", "layer_rates_for",
    "load_dataset", "loss_and_accuracy", "magnitude_prune", "metrics_path", "output_layer_name", "output_dir",
    "paired_interval", "prunable_parameters", "random_prune", "read_metrics", "reinitialize", "rewind",
    "run_imp", "safe_load", "scale_table", "show_findings", "snapshot", "sparse_glorot_std", "subnetwork_scale",
    "train", "train_batched", "train_controls", "weight_movement", "write_metrics", "xavier_std",
]
