"""Looking inside a network: its layers' shapes, parameters and costs (``summary``), what each
unit of a feature map sees (``receptive_field``), and turning a classifier into a network that
slides over larger images (``to_fully_convolutional``).

    from minidl.analysis import summary, receptive_field, to_fully_convolutional
    summary(vgg16(), (3, 224, 224))                        # prints the table
    receptive_field(vgg16(), (3, 224, 224), "features.30") # 212x212, jump 32
"""

from minidl.analysis.fully_conv import to_fully_convolutional
from minidl.analysis.receptive_field import ReceptiveField, receptive_field
from minidl.analysis.summary import LayerRow, ModelSummary, layer_macs, summary

__all__ = ["summary", "ModelSummary", "LayerRow", "layer_macs", "receptive_field", "ReceptiveField",
           "to_fully_convolutional"]
