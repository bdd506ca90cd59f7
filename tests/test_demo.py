import contrastlearn.__main__ as cli
from contrastlearn.demo import run_diffraction_demo


def test_diffraction_demo_scores_cplr_clr_and_pca():
    table = run_diffraction_demo(n_samples=200, image_size=32, max_epochs=1, verbose=0)
    assert list(table["Type"]) == ["CLR", "CLR", "CPLR", "PCA"]
    assert set(table["Mode"][:2]) == {"Cartesian ⟷ Cartesian", "Polar ⟷ Polar"}
    assert table[["F1", "Overlap"]].notna().all().all()


def test_command_line_prints_progress_and_the_table(capsys):
    cli.main(["demo", "--epochs", "1", "--n-samples", "200", "--image-size", "32"])
    out = capsys.readouterr().out
    assert "train_loss" in out  # epoch tables as progress
    assert "Polar ⟷ Cartesian" in out and "PCA" in out and "demo finished" in out


def test_digits_demo_from_the_command_line(capsys):
    cli.main(["demo", "--data", "digits", "--epochs", "1"])
    out = capsys.readouterr().out
    assert "raw pixels" in out and "linear probe acc (10% labels)" in out
