"""`ansible-builder create` turns execution-environment.yml into a build context with every pinned part.

No container engine is available here, so the image itself is not built; what is checked is that the
context ansible-builder generates holds the Python and system requirements, the collection, and the
steps that build or install each pinned binary at the version the tests use.
"""

import json
import shutil
import subprocess
import tarfile

import yaml
from run_sanity import REPO, shipped_files


def run(argv, cwd):
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_ansible_builder_create_yields_a_complete_context(tmp_path):
    source = tmp_path / "src"
    for name in shipped_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    # The documented two steps: build the collection tarball, then let ansible-builder lay out the context.
    run(["ansible-galaxy", "collection", "build", "--output-path", str(source)], cwd=source)
    context = tmp_path / "context"
    run(["ansible-builder", "create", "-c", str(context), "--output-filename", "Containerfile"], cwd=source)

    containerfile = (context / "Containerfile").read_text()
    build = context / "_build"
    assert (build / "requirements.txt").read_text().split() == (REPO / "requirements.txt").read_text().split()
    assert (build / "bindep.txt").read_text() == (REPO / "bindep.txt").read_text()
    assert json.loads((build / "trident" / "versions.json").read_text()) == json.loads(
        (REPO / "tools" / "versions.json").read_text())
    assert (build / "trident" / "toolchain.py").read_bytes() == (REPO / "tools" / "toolchain.py").read_bytes()

    pins = {line.split("==")[0]: line for line in (REPO / "tests" / "requirements.txt").read_text().split()
            if "==" in line}
    assert f'ANSIBLE_INSTALL_REFS="{pins["ansible-core"]} {pins["ansible-runner"]}"' in containerfile
    assert "toolchain.py install sops age kubernetes tofu helm" in containerfile
    for binary in ("sops", "age", "age-keygen", "kubectl", "tofu", "helm"):
        assert f"/opt/trident/bin/{binary} " in containerfile
    terraform = json.loads((REPO / "tools" / "versions.json").read_text())["terraform"]["version"].lstrip("v")
    assert f"install -y terraform-{terraform}-1" in containerfile
    assert "COPY --from=builder /opt/trident-bin/ /usr/local/bin/" in containerfile
    final_stage = containerfile.split("FROM base AS final")[1]
    assert "sops --version && age --version && kubectl version --client && tofu version && helm version && terraform version" \
        in final_stage, "the image proves every binary runs before it is tagged"
    assert "terraform version && bwrap --version" in final_stage, "terraform_apply's sandbox is in the image"
    assert "ENV ANSIBLE_PIPELINING=True ANSIBLE_INVENTORY_UNPARSED_FAILED=True " \
           "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=True" in final_stage, "no module arguments in ~/.ansible/tmp"

    assert yaml.safe_load((build / "requirements.yml").read_text()) == {
        "collections": [{"name": "/build/trident-gitops.tar.gz", "type": "file"}]}
    tarballs = list((build / "trident").glob("trident-gitops-*.tar.gz"))
    assert len(tarballs) == 1
    with tarfile.open(tarballs[0]) as archive:
        names = set(archive.getnames())
        meta = yaml.safe_load(archive.extractfile("meta/execution-environment.yml"))
    assert {"plugins/inventory/environments.py", "plugins/callback/drift_report.py",
            "requirements.txt", "bindep.txt"} <= names
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    assert not any(name.startswith(("tools/", "bench/")) for name in names), "build_ignore keeps dev tools out"
