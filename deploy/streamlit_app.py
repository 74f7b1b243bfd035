"""Streamlit Community Cloud entry point: the dashboard as a public demo.

Set the app's main file path to ``deploy/streamlit_app.py``; Cloud then installs
``deploy/requirements.txt`` (CPU-only PyTorch) and runs this file. It switches on
demo mode (short runs, one at a time; see docs/DEPLOY.md), unless the deployment
sets GAN_WORKBENCH_DEMO itself, and runs the repository's ``app.py`` unchanged.

``app.py`` names its pages relative to itself ("pages/gallery.py") and Streamlit
resolves such names against the folder of the main script, which here is
``deploy/``: ``deploy/pages`` is therefore a link to ``../pages``.
"""

import os
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("GAN_WORKBENCH_DEMO", "1")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # import gan_core from the checkout, as app.py does

runpy.run_path(str(ROOT / "app.py"), run_name="__main__")
