
import pytest
from cli_support import run_core
from conftest import write_idx_set

from core.cli.main import main


def _run(*args, env_extra=None):
    return run_core(*args, env=env_extra, drop=("MNIST_DIR",))


def test_train_then_evaluate_end_to_end(tmp_path, sample_data):
    write_idx_set(tmp_path, sample_data, n_train=800, n_test=200)
    models = tmp_path / "models"
    args = ["--models", "knn", "logreg", "--models-dir", str(models)]
    first = _run("train", *args, env_extra={"MNIST_DIR": str(tmp_path)})
    assert first.returncode == 0, first.stderr
    assert "MNIST from IDX files (800 train / 200 test)" in first.stdout
    header = first.stdout.splitlines()[2]
    for col in ("model", "accuracy %", "macro F1 %", "fit s", "predict ms/digit", "size MB"):
        assert col in header
    assert "KNN" in first.stdout and "Logistic regression" in first.stdout
    assert "knn: trained in" in first.stderr
    second = _run("train", *args, env_extra={"MNIST_DIR": str(tmp_path)})
    assert second.returncode == 0 and "knn: cache" in second.stderr and "logreg: cache" in second.stderr
    assert second.stdout.splitlines()[3:] == first.stdout.splitlines()[3:]  # same table rows from the cache
    ev = _run("evaluate", *args, "--source", "idx", env_extra={"MNIST_DIR": str(tmp_path)})
    assert ev.returncode == 0 and ev.stdout.splitlines()[3:] == first.stdout.splitlines()[3:]


def test_evaluate_without_models_trains_nothing(tmp_path, capsys):
    rc = main(["evaluate", "--source", "sample", "--models", "mlp", "--models-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1 and "not trained yet: mlp" in out
    assert not list(tmp_path.glob("*.joblib"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--models", "resnet"], "unknown model 'resnet'"),
        (["train", "--source", "idx", "--mnist-dir", "/nonexistent/mnist"], "is not a folder"),
        (["train", "--max-train", "3", "--source", "sample"], "max_train=3 is too small"),
    ],
)
def test_bad_arguments_exit_nonzero_with_a_message(args, message, capsys, tmp_path):
    assert main([*args, "--models-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_argparse_rejects_unknown_source():
    result = _run("train", "--source", "kaggle")
    assert result.returncode == 2 and "invalid choice: 'kaggle'" in result.stderr
