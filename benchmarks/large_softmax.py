"""What skipping a large softmax's normalizer buys, in training and at inference.

(a) One training update (forward, backward, Adam) of a bigram NeuralLM (256 contexts, 128
    hidden units): full softmax against NCE with k = 64 sampled words, for vocabularies of
    2,000 to 50,000 words.
(b) Scoring 1,000 given words in their contexts: the full softmax (all V scores and a
    log-sum-exp) against a self-normalized model (one output row per word), as Devlin et al.
    (2014) did at decoding time (they report about 15x for their output layer).

Run: python benchmarks/large_softmax.py [--device cuda]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import report  # noqa: E402

from ebmlib import objectives  # noqa: E402
from ebmlib.models import NeuralLM  # noqa: E402
from ebmlib.utils import make_generator, time_call  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    for vocab in [2_000, 20_000, 50_000]:
        bench(vocab, args)


def bench(vocab: int, args: argparse.Namespace) -> None:
    """Both comparisons at one vocabulary size."""
    device = torch.device(args.device)
    gen = make_generator(0, "benchmark", vocab, device=device)
    lm = NeuralLM(vocab, 1, 64, 128, generator=make_generator(0, "lm", vocab)).to(device)
    with torch.no_grad():
        lm.output.weight.normal_(0.0, 0.05, generator=make_generator(0, "output", vocab))
    optimizer = torch.optim.Adam(lm.parameters(), lr=1e-3)
    batch = torch.randint(vocab, (256, 2), device=device, generator=gen)
    q = torch.full((vocab,), 1.0 / vocab, device=device)

    def update(loss_fn):
        def step():
            optimizer.zero_grad()
            loss_fn(lm, batch).backward()
            optimizer.step()
        return step

    full = time_call(update(objectives.softmax_nll), repeats=10)
    nce = time_call(update(lambda m, b: objectives.sampled_nce(m, b, q, 64, generator=gen)), repeats=10)
    report(f"(a) one training update, V = {vocab:,}", ("full softmax", full), ("NCE, k = 64", nce),
           "grows with V")

    ctx = torch.randint(vocab, (1000, 1), device=device, generator=gen)
    words = torch.randint(vocab, (1000,), device=device, generator=gen)
    with torch.no_grad():
        normalized = time_call(lambda: lm.log_prob(ctx, words), repeats=10)
        self_norm = time_call(lambda: lm.unnormalized_log_prob(ctx, words), repeats=10)
    report(f"(b) scoring 1,000 words, V = {vocab:,}", ("with the normalizer", normalized),
           ("self-normalized", self_norm), "Devlin et al.: ~15x for their output layer")


if __name__ == "__main__":
    main()
