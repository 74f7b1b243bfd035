"""Architectures. One file per family; recipes pick and configure them."""

from .dcgan import DCGANDiscriminator, DCGANGenerator, init_dcgan_weights
from .mlp import MLPDiscriminator, MLPGenerator
from .pix2pix import PatchDiscriminator, UNetGenerator

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator", "PatchDiscriminator", "UNetGenerator",
           "init_dcgan_weights"]
