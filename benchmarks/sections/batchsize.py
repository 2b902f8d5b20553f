"""Few-shot accuracy per batch size.

20-way and 5-way 1-shot accuracy on Omniglot's unseen alphabets of the
default cnn at ``batch_size`` 64, 128, 256 and 512, equal epochs.
"""

from data import omniglot_budget, unseen_alphabet_scores


def run(args, data, train):
    epochs, episodes = omniglot_budget(args.quick)
    return bench_batch_size(data, train, epochs=epochs, episodes=episodes)


def bench_batch_size(data, train, *, epochs, episodes, sizes=(64, 128, 256, 512)):
    """Unseen-alphabet accuracy of the default cnn per ``batch_size``.

    Every fit trains ``epochs`` epochs, so each sees the same number of
    images; larger batches take fewer, larger steps. Accuracy is 20-way
    and 5-way 1-shot within the alphabets never seen (Lake's protocol);
    ``fit seconds`` is one fit each, for scale (``train`` measures speed).
    """
    from sksiamese import SiameseEmbedder

    results = {"epochs": epochs, "episodes": episodes}
    for size in sizes:
        embedder = SiameseEmbedder(
            network="cnn",
            input_shape=(28, 28, 1),
            epochs=epochs,
            batch_size=size,
            random_state=0,
        )
        results[f"batch_size={size}"] = unseen_alphabet_scores(
            embedder,
            data,
            ~train,
            tasks={"20-way 1-shot": (20, 1), "5-way 1-shot": (5, 1)},
            episodes=episodes,
        )
    return results
