"""Offline stand-in for the ``get-pip.py`` that ansible-test downloads from a host outside the package registries.

ansible-test creates its sanity virtualenvs without pip and runs this script (as ``__main__``) with
pip's install arguments. We bootstrap pip from the interpreter's bundled wheel (ensurepip) and let
that pip install the exact version ansible-test asked for from the package index.
"""

import subprocess
import sys

GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install",
                       *[arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_FLAGS]])
