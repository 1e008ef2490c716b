"""Looking inside a trained network: the views of the lectures, each one call that returns data and a figure.

    from minidl.visualize import filters, activations, top_patches, embed, class_model
    filters(model.features.conv1, path="filters.png")                          # weights as pictures
    top_patches(model, test_set, "features.relu3b", k=9, normalize=normalize,   # Zeiler and Fergus
                path="top9.png")

One concept per file:

- ``filters.py``: filters (a convolution's weights) and linear_templates (a fully connected
  layer's rows as images), on one zero-centred colour scale
- ``activations.py``: activations, the maps of chosen layers for one image
- ``top_patches.py``: top_patches, the k dataset patches that excite each unit most, cropped to its
  receptive field, beside their deconvnet projections
- ``embedding.py``: embed (PCA, t-SNE) and nearest_neighbours in feature space
- ``class_model.py``: class_model, the image a class scores highest (Simonyan et al.)
- ``evolution.py``: FeatureEvolution, a ``fit`` callback: units' favourite inputs across epochs
- ``corruptions.py``: corrupt, Hendrycks and Dietterich's corruptions at severities 0-5
- ``robustness.py``: robustness_report, errors under corruption and the corruption error (CE)
- ``inputs.py``: the pictures in [0, 1] and the model's normalised input; ``pictures.py``: drawing

Every function takes pictures in [0, 1] and the model's ``normalize`` (and a ``transform`` such as
``Resize``), runs the model in evaluation mode without changing it, and writes its PNG
atomically when given a ``path``. ``minidl visualize`` runs them from the command line.
"""

from minidl.visualize.activations import Activations, activations
from minidl.visualize.class_model import ClassModel, class_model, scaled_settings
from minidl.visualize.corruptions import BENCHMARK, CORRUPTIONS, EXTRA, corrupt, plot_corruptions
from minidl.visualize.embedding import Embedding, Neighbours, embed, nearest_neighbours, pca
from minidl.visualize.evolution import FeatureEvolution
from minidl.visualize.filters import Filters, filters, linear_templates
from minidl.visualize.robustness import RobustnessReport, robustness_report
from minidl.visualize.top_patches import TopPatches, top_patches

__all__ = ["filters", "linear_templates", "Filters", "activations", "Activations", "top_patches", "TopPatches",
           "embed", "pca", "nearest_neighbours", "Embedding", "Neighbours", "class_model", "scaled_settings",
           "ClassModel", "FeatureEvolution", "corrupt", "plot_corruptions", "CORRUPTIONS", "BENCHMARK", "EXTRA",
           "robustness_report", "RobustnessReport"]
