"""Architectures. One file per family; recipes pick and configure them."""

from .dcgan import DCGANDiscriminator, DCGANGenerator, init_dcgan_weights
from .mlp import MLPDiscriminator, MLPGenerator

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator", "init_dcgan_weights"]
