"""Plan JSON captured from the real terraform / tofu at test time, not hand-written fixtures."""

import json
import os
import subprocess

import pytest

from testbed import tool


class RealPlans:
    """One root module with a local state; each call writes ``main.tf`` and runs the real binary."""

    def __init__(self, workdir, binary):
        self.binary = tool(binary)
        self.project = workdir / "project"
        self.project.mkdir()
        self.state = workdir / "terraform.tfstate"
        self.plan_file = workdir / "plan.tfplan"
        self.env = {**os.environ, "TF_DATA_DIR": str(workdir / "data"), "TF_IN_AUTOMATION": "1"}

    def _run(self, *args):
        proc = subprocess.run([self.binary, *args, "-no-color"], cwd=self.project, env=self.env,
                              capture_output=True, text=True, check=False)
        assert proc.returncode in (0, 2), proc.stderr
        return proc.stdout

    def plan(self, config, *flags, variables=None):
        """``show -json`` of a plan for ``config`` (``flags`` e.g. -refresh-only, -destroy)."""
        (self.project / "main.tf").write_text(config)
        self._run("init", "-input=false")
        var_args = [f"-var={name}={value}" for name, value in (variables or {}).items()]
        self._run("plan", "-input=false", f"-state={self.state}", f"-out={self.plan_file}", *flags, *var_args)
        return json.loads(self._run("show", "-json", str(self.plan_file)))

    def apply(self, config, variables=None):
        document = self.plan(config, variables=variables)
        self._run("apply", "-input=false", f"-state={self.state}", str(self.plan_file))
        return document


@pytest.fixture(params=["terraform", "tofu"])
def real_plans(request, tmp_path):
    return RealPlans(tmp_path, request.param)
