"""Interactive explorers for JupyterLab (ipywidgets 8): thin views over ``nncourse``.

Each public function returns a widget (an ``ipywidgets.VBox``) that displays itself and
also exposes its state, so that tests and curious students can drive it from code:

- ``.controls``: dict name -> the ipywidgets control (set ``.value``, ``.click()`` buttons);
- ``.figure``: the matplotlib ``Figure`` (Agg, no pyplot) it draws into;
- ``.frame``: the PNG bytes of the last rendered frame, shown by ``.image`` (an
  ``ipywidgets.Image``); ``.render()`` draws a new frame;
- the objects it views: ``.model`` / ``.trainer`` (playground), ``.layer`` (dropout,
  batch norm), ``.racers`` (optimiser race), ...

Nothing here trains or differentiates by itself: models are ``nncourse.layers``,
training is ``nncourse.train.Trainer`` (one epoch per call of ``step()``), updates are
``nncourse.optim`` optimisers. The figure is built once and its artists are updated in
place (``set_data``, ``set_offsets``), then rendered to PNG bytes: no browser-side
matplotlib extension is needed, and a frame costs a few tens of milliseconds. A view whose
frames change only some artists (the playground) keeps the rest of the figure as a drawn
background and redraws just those artists (``FigureView._animated_artists``).

Interaction model:

- Play starts an ``asyncio`` task on the kernel's event loop that runs ``step()`` and
  ``render()`` and yields between frames, so the kernel keeps answering (Pause works, other
  cells run). Constructing a widget never starts it.
- Control changes are debounced: a burst of slider events triggers one update after a
  short quiet period. Outside an event loop (scripts, tests) they apply at once.

Where things live (one module per explorer, plus the shared part):

- ``base``: ``FigureView`` (figure -> PNG, ``set``, debounced observers), ``Player``
  (Play / Pause / Step / Reset), control helpers, ``ACTIVATION_LAYERS``, ``OPTIMIZERS``;
- ``playground_widget``: :func:`playground` (``DATASETS``, ``mlp``), with its network
  picture in ``network_view`` (``NetworkView``) and its input features from
  :mod:`nncourse.features`;
- ``activations``: :func:`activation_explorer`; ``initialization``: :func:`init_explorer`
  (``INITS``); ``optimizers``: :func:`optimizer_race` (``SURFACES``);
  ``dropout``: :func:`dropout_explorer`; ``batchnorm``: :func:`batchnorm_explorer`.
"""

from .activations import ActivationExplorer, activation_explorer
from .base import ACTIVATION_LAYERS, OPTIMIZERS
from .batchnorm import BatchNormExplorer, batchnorm_explorer
from .dropout import DropoutExplorer, dropout_explorer
from .initialization import INITS, InitExplorer, init_explorer
from .optimizers import SURFACES, OptimizerRace, optimizer_race
from .playground_widget import DATASETS, Playground, mlp, playground

__all__ = [
    "playground",
    "activation_explorer",
    "init_explorer",
    "optimizer_race",
    "dropout_explorer",
    "batchnorm_explorer",
    "DATASETS",
    "OPTIMIZERS",
    "SURFACES",
    "ACTIVATION_LAYERS",
    "INITS",
    "mlp",
    "Playground",
    "ActivationExplorer",
    "InitExplorer",
    "OptimizerRace",
    "DropoutExplorer",
    "BatchNormExplorer",
]
