import re

import numpy as np
import pytest

from sksiamese import demo


def test_demo_recognises_unseen_alphabets_far_better_than_raw_pixels(capsys):
    n_episodes = 50
    demo.main(["--epochs", "3", "--episodes", str(n_episodes)])
    printed = capsys.readouterr()
    # Progress goes to standard error, a line per stage and per epoch, each
    # after the seconds elapsed; standard output holds the results alone.
    progress = [re.fullmatch(r"\[ *(\d+\.\d) s\] (.*)", line) for line in printed.err.splitlines()]
    assert all(progress), printed.err
    stages = [match[2] for match in progress]
    assert stages[0] == "Loading the Omniglot characters."
    assert stages[1:3] == [
        "Fitting PCA (32 components) on 3920 images.",
        "Fitting SiameseEmbedder on 3920 images.",
    ]
    assert [stage.split(":")[0] for stage in stages[3:6]] == [
        f"SiameseEmbedder epoch {epoch}/3" for epoch in (1, 2, 3)
    ]
    assert stages[6:] == [f"Scoring {n_episodes} episodes of 1 and 5 examples per class."]
    seconds = [float(match[1]) for match in progress]
    assert seconds == sorted(seconds)
    lines = printed.out.splitlines()
    assert lines[0] == (
        "Trained on 6 Omniglot alphabets (Balinese, Japanese_(katakana), Korean, Latin, "
        'Sanskrit, Tagalog): 196 characters, 3920 images; SiameseEmbedder(network="cnn"), '
        "3 epochs."
    )
    assert "the 46 characters of the alphabets never seen (Early_Aramaic, Greek)" in lines[1]
    assert lines[2].startswith(
        f"20-way episodes within one alphabet, mean accuracy over {n_episodes} "
    )
    rows = {line[:22].strip(): line[22:].split() for line in lines[4:]}
    assert list(rows) == ["raw pixels", "PCA (32 components)", "SiameseEmbedder"]
    assert rows["raw pixels"][0] == "-" and float(rows["SiameseEmbedder"][0]) > 0
    accuracy = {name: np.array(values[1:], dtype=float) for name, values in rows.items()}
    for one_shot, five_shot in accuracy.values():
        # Chance is 1/20, and five examples beat one.
        assert 0.05 < one_shot < five_shot <= 1.0
    # Each accuracy is a mean over n_episodes * 20 queries. The embedder must
    # lead raw pixels by over 4 standard errors of the difference (counting
    # the two as independent, which the shared episodes make conservative).
    n_queries = n_episodes * 20
    for embedder, pixels in zip(accuracy["SiameseEmbedder"], accuracy["raw pixels"]):
        standard_error = np.sqrt((embedder * (1 - embedder) + pixels * (1 - pixels)) / n_queries)
        assert embedder - pixels > 4 * standard_error, (embedder, pixels, standard_error)


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--episodes", "-3"], ["--episodes", "many"]])
def test_demo_rejects_counts_below_one(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        demo.main(argv)
    assert exit_info.value.code == 2
    assert f"argument {argv[0]}: " in capsys.readouterr().err
