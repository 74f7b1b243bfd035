"""GAN Workbench: the dashboard's entry point. Pages live in pages/, one file each;
they read widgets, call gan_core and render. Only the two labs train inside a script
run, a few tiny steps per frame (README, "The dashboard"); every other training is a
background run. pages/_*.py are their helpers, not pages: only those listed here are."""

import streamlit as st

st.set_page_config(page_title="GAN Workbench", page_icon=":material/auto_awesome:", layout="wide")

pages = [
    st.Page("pages/gallery.py", title="Gallery: faces, digits, points", icon=":material/face:", default=True),
    st.Page("pages/conditional.py", title="Conditional generation", icon=":material/tune:"),
    st.Page("pages/pix2pix.py", title="Pix2Pix: translate images", icon=":material/compare:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/runs.py", title="Runs and loss curves", icon=":material/monitoring:"),
    st.Page("pages/lab_1d.py", title="Lab: GAN theory in 1-D", icon=":material/show_chart:"),
    st.Page("pages/lab_2d.py", title="Lab: mode collapse in 2-D", icon=":material/scatter_plot:"),
]
st.navigation(pages).run()
