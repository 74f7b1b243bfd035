"""GAN Workbench engine: recipes, data sources, the trainer and the run directory.

No Streamlit here, ever: the dashboard and the command line both call into this.
"""

__version__ = "0.1.0"
