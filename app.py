"""GAN Workbench: the dashboard's entry point. Pages live in pages/, one file each;
they read widgets, call gan_core and render. Only the two labs train inside a script
run, a few tiny steps per frame (README, "The dashboard"); every other training is a
background run. pages/common/ holds their helpers: Streamlit lists only pages/*.py as pages
before st.navigation runs, so helpers live one folder down, out of that list."""

from pathlib import Path

import streamlit as st

# The tab's icon is a file served by this server: a ":material/...:" icon makes the
# browser fetch it from fonts.gstatic.com, which fails offline (issue #21).
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"
st.set_page_config(page_title="GAN Workbench", page_icon=str(ICON), layout="wide")

pages = [
    st.Page("pages/gallery.py", title="Gallery: faces, digits, points", icon=":material/face:", default=True),
    st.Page("pages/conditional.py", title="Conditional generation", icon=":material/tune:"),
    st.Page("pages/pix2pix.py", title="Pix2Pix: translate images", icon=":material/compare:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/runs.py", title="Runs and loss curves", icon=":material/monitoring:"),
    st.Page("pages/lab_1d.py", title="Lab: GAN theory in 1-D", icon=":material/show_chart:"),
    st.Page("pages/lab_2d.py", title="Lab: mode collapse in 2-D", icon=":material/scatter_plot:"),
]
navigation = st.navigation(pages)  # first: until it is sent, the browser lists pages/ as files

# The engine's packages, imported whole before any page. Streamlit runs every session's
# script in a thread of its own, and Python's import locks are per module: a thread that
# enters gan_core.data through a submodule (recipes imports gan_core.data.paired) while
# another is still running the package's __init__ can be handed the other's half-built
# module ("cannot import name ... from partially initialized module"; seen when two
# browsers opened pages at once). Imported here first, in one order, every other thread
# waits for the whole package instead.
import gan_core.data  # noqa: F401  (order matters: data before what stands on it)
import gan_core.models  # noqa: F401
import gan_core.experiments  # noqa: F401
from gan_core.settings import upload_limits  # noqa: E402
from pages.common.streamlit_internals import hold_uploads  # noqa: E402

# The engine's upload limits, held by Streamlit's server before it keeps a byte (32 MB a
# file and 64 MB a visitor in demo mode): set before any page draws an uploader.
limits = upload_limits()
hold_uploads(limits.file_bytes, limits.visitor_bytes)

navigation.run()
