"""The smallest HNSW ``ef_search`` that meets a target recall, measured on the gallery.

Users of an approximate index know the recall they want, not the size of
the candidate list that gives it, which depends on the data. So the gallery
measures: some of its own rows, held out of the graph, serve as queries;
their exact nearest rows are found by a scan, and ``ef_search`` grows until
the graph finds enough of them. The queries are held out, not searched as
nodes of the graph: a node's own links lead straight to its neighbours, so
enrolled rows searched in place find them more easily than new queries do
(recall@10 of 0.98 for such rows where new rows of the same identities got
0.94, at the same ``ef_search``, in a test of 4,000 rows).
"""

import warnings

# The recall measured is recall@10 (of fewer neighbours in tiny galleries).
RECALL_AT = 10
# Rows used as queries: at most 1,000 and at most 10% of the gallery, so that
# calibrating costs a small share of building the graph.
MAX_QUERIES = 1000
QUERY_SHARE = 0.1
# ef_search values tried: doubling from the first, up to the last; then
# halving the gap until it is within a sixteenth of the value found.
FIRST_EF_SEARCH = 16
MAX_EF_SEARCH = 4096


def held_out_rows(n_rows):
    """How many of ``n_rows`` rows to hold out as queries: 0 if too few to measure."""
    return min(MAX_QUERIES, int(QUERY_SHARE * n_rows))


def calibrate_ef_search(index, queries, target_recall):
    """``(ef_search, recall)``: the smallest ``ef_search`` meeting ``target_recall``.

    Parameters
    ----------
    index : HNSWIndex
        The index, with ``search`` and ``exact_search``.
    queries : ndarray of shape (n_queries, n_features)
        Rows of the gallery that are not (yet) in the index.
    target_recall : float in (0, 1]
        Recall@10 against exact search to reach.

    Returns
    -------
    ef_search : int
        The smallest ``ef_search`` found to reach the target, or
        ``MAX_EF_SEARCH`` (with a warning) if none does.
    recall : float
        The recall measured at ``ef_search``.
    """
    k = min(RECALL_AT, len(index))
    truth = index.exact_search(queries, k)
    measured = {}

    def recall(ef_search):
        found = index.search(queries, k, ef_search)[1]
        hits = (found[:, :, None] == truth[:, None, :]).any(axis=2)
        measured[ef_search] = float(hits.mean())
        return measured[ef_search]

    low, high = None, FIRST_EF_SEARCH
    while recall(high) < target_recall:
        if high == MAX_EF_SEARCH:
            warnings.warn(
                f"target_recall={target_recall} was not reached: recall@{k} is "
                f"{measured[high]:.3f} at ef_search={MAX_EF_SEARCH}, the largest tried, which "
                "the gallery uses. Build a better graph (raise hnsw_m or ef_construction), "
                "lower target_recall, or use algorithm='exact'.",
                UserWarning,
                stacklevel=4,
            )
            return MAX_EF_SEARCH, measured[high]
        low, high = high, min(2 * high, MAX_EF_SEARCH)
    # Recall grows with ef_search (up to sampling noise): halve the gap
    # between the last value short of the target and the first reaching it.
    while low is not None and high - low > max(1, high // 16):
        middle = (low + high) // 2
        if recall(middle) >= target_recall:
            high = middle
        else:
            low = middle
    return high, measured[high]
