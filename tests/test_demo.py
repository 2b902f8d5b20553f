from sksiamese import demo


def test_demo_reports_few_shot_accuracy_on_unseen_digits(capsys):
    demo.main(["--epochs", "2", "--episodes", "3"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Trained on digits 0-6 (1264 images)")
    assert "unseen digits 7-9 (533 images)" in lines[1]
    rows = {line[:24].strip(): line[24:].split() for line in lines[3:]}
    assert set(rows) == {"raw pixels + 1-NN", "SiameseEmbedder + 1-NN"}
    for one_shot, five_shot in rows.values():
        # Three classes: chance is 1/3, and five examples beat one.
        assert 0.34 < float(one_shot) < float(five_shot) <= 1.0
