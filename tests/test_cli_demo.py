"""rtrl demo: the main job runs, compares learners and draws its learning curves."""

from rtrl.cli import main


def test_demo_streams_and_plots(tmp_path, capsys):
    png = tmp_path / "curves.png"
    argv = ["demo", "--steps", "600", "--hidden", "6", "--chunk", "100", "--plot", str(png)]
    assert main([*argv, "--no-compare"]) == 0
    out = capsys.readouterr().out
    assert "prequential MSE" in out and "steps/s" in out and str(png) in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_compares_every_learner(capsys):
    assert main(["demo", "--steps", "400", "--hidden", "4", "--chunk", "100"]) == 0
    out = capsys.readouterr().out
    for name in ("rtrl", "snap1", "kf", "ok", "uoro", "tbptt", "bptt", "predict 0", "linear"):
        assert name in out, name


def test_demo_plot_into_a_missing_directory_fails_cleanly(tmp_path, capsys):
    argv = ["demo", "--steps", "200", "--plot", str(tmp_path / "no" / "c.png")]
    assert main(argv) == 2
    assert "no such directory" in capsys.readouterr().err
