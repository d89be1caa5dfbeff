"""``ansible-playbook trident.gitops.init -e dest=...``: a new GitOps repository in the seed's layout, committed."""

import configparser
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "gitops-repo"


def init(cwd, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "GIT_")) or
           k == "ANSIBLE_COLLECTIONS_PATH"}
    # A fresh HOME: no git identity, no Ansible settings.
    return subprocess.run(["ansible-playbook", "trident.gitops.init", *extra], cwd=cwd, capture_output=True,
                          text=True, check=False, env={**env, "HOME": str(cwd), "ANSIBLE_NOCOLOR": "1"})


def files_of(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts)


def test_init_makes_a_committed_repository_without_the_placeholder_kubeconfigs(tmp_path):
    proc = init(tmp_path, "-e", "dest=my-gitops-repo")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repo = tmp_path / "my-gitops-repo"
    expected = sorted(set(files_of(EXAMPLE)) - {"environments/aliyun/kubeconfig.yaml",
                                                "environments/k3s/yaml/kubeconfig.yaml"} | {".gitignore"})
    assert files_of(repo) == expected
    for name in expected:
        if name != ".gitignore":
            assert (repo / name).read_bytes() == (EXAMPLE / name).read_bytes(), name
    cfg = configparser.ConfigParser(inline_comment_prefixes=(";",))
    cfg.read(repo / "ansible.cfg")
    assert cfg["defaults"]["inventory"] == "gitops.environments.yml"
    assert cfg["callback_trident_drift_report"]["report_dir"] == "reports"
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True)
    assert status.stdout == "", "everything is committed"
    tracked = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True).stdout.split()
    assert sorted(tracked) == expected
    assert "cd my-gitops-repo && ansible-playbook trident.gitops.drift" in proc.stdout


def test_init_refuses_a_folder_with_files_and_writes_nothing(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    proc = init(tmp_path, "-e", "dest=mine")
    assert proc.returncode == 2
    assert "mine exists and is not empty; nothing was written" in proc.stdout
    assert files_of(tmp_path / "mine") == ["notes.txt"] and not (tmp_path / "mine" / ".git").exists()


def test_init_without_dest_says_how_to_call_it(tmp_path):
    proc = init(tmp_path)
    assert proc.returncode == 2
    assert "ansible-playbook trident.gitops.init -e dest=my-gitops-repo" in proc.stdout
    assert os.listdir(tmp_path) == [] or all(name.startswith(".") for name in os.listdir(tmp_path))
