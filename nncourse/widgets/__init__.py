"""Interactive explorers for JupyterLab (ipywidgets 8): see ``playground_widget``."""

from .playground_widget import (  # noqa: F401
    ACTIVATION_LAYERS,
    DATASETS,
    INITS,
    OPTIMIZERS,
    SURFACES,
    ActivationExplorer,
    BatchNormExplorer,
    DropoutExplorer,
    InitExplorer,
    OptimizerRace,
    Playground,
    activation_explorer,
    batchnorm_explorer,
    dropout_explorer,
    init_explorer,
    mlp,
    optimizer_race,
    playground,
)
from .playground_widget import __all__  # noqa: F401
