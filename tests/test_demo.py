import contrastlearn.__main__ as cli
from contrastlearn.demo import run_diffraction_demo


def test_diffraction_demo_scores_cplr_clr_and_baselines_under_the_reference_protocol():
    table = run_diffraction_demo(n_samples=200, image_size=32, max_epochs=1, verbose=0)
    assert list(table["Type"]) == ["CLR", "CLR", "CPLR", "PCA", "Random"]
    assert list(table["Reference mode"][:3]) == [
        "Polar ⟷ Polar",
        "Cartesian ⟷ Cartesian",
        "Polar ⟷ Cartesian",
    ]
    assert table[["F1", "Accuracy", "Overlap"]].notna().all().all()


def test_command_line_prints_progress_and_the_table(capsys):
    cli.main(["demo", "--epochs", "1", "--n-samples", "200", "--image-size", "32"])
    out = capsys.readouterr().out
    assert "train_loss" in out  # epoch tables as progress
    assert "Polar ⟷ Cartesian" in out and "Reference mode" in out and "PCA" in out
    assert "demo finished" in out


def test_digits_demo_from_the_command_line(capsys):
    cli.main(["demo", "--data", "digits", "--epochs", "1"])
    out = capsys.readouterr().out
    assert "raw pixels" in out and "linear probe acc (10% labels)" in out
