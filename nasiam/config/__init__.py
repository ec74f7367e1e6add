"""Run configurations: the options' schema, recipes (defaults < recipes < command line),
their checks and the checks against this machine, one module each."""
from nasiam.config.machine import check_resources, require_package
from nasiam.config.recipes import (
    DEMO_DATASETS,
    DEMO_SCALE,
    config_to_yaml,
    demo_scale_note,
    load_config,
    read_yaml_file,
)
from nasiam.config.schema import (
    HOW_IT_RAN,
    STRUCTURAL_KEYS,
    ConfigError,
    PretrainConfig,
    RunConfig,
    SearchConfig,
    field_types,
    parse_value,
)
from nasiam.config.validate import (
    BOUNDS,
    PRECISION_ALIASES,
    canonical,
    check_bounds,
    check_input_path,
    check_output_path,
    check_outside_runs,
    check_wandb_name,
    config_choices,
    nearest_folder,
    validate_config,
)

__all__ = ["RunConfig", "SearchConfig", "PretrainConfig", "ConfigError", "load_config", "config_to_yaml", "parse_value",
           "STRUCTURAL_KEYS", "HOW_IT_RAN", "field_types", "config_choices", "PRECISION_ALIASES", "require_package", "BOUNDS",
           "check_bounds", "check_input_path", "check_output_path", "check_outside_runs", "check_wandb_name", "canonical", "nearest_folder", "check_resources", "read_yaml_file", "DEMO_DATASETS", "DEMO_SCALE",
           "demo_scale_note", "validate_config"]
