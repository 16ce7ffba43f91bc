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

import torch
from _timing import best_time, report

from ebmlib import objectives
from ebmlib.models import NeuralLM


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    for vocab in [2_000, 20_000, 50_000]:
        bench(vocab, args)


def bench(vocab: int, args: argparse.Namespace) -> None:
    """Both comparisons at one vocabulary size."""
    device = torch.device(args.device)
    lm = NeuralLM(vocab, 1, 64, 128).to(device)
    torch.nn.init.normal_(lm.output.weight, std=0.05)
    optimizer = torch.optim.Adam(lm.parameters(), lr=1e-3)
    batch = torch.randint(vocab, (256, 2), device=device)
    q = torch.full((vocab,), 1.0 / vocab, device=device)

    def update(output_loss):
        def step():
            optimizer.zero_grad()
            hidden = lm.features(batch[:, :1])
            output_loss(lm.output.weight, lm.output.bias, hidden, batch[:, 1]).backward()
            optimizer.step()
        return step

    full = best_time(update(objectives.softmax_nll), repeats=10, device=args.device)
    nce = best_time(update(lambda w, b, h, t: objectives.sampled_nce(w, b, h, t, q, 64)), repeats=10,
                    device=args.device)
    report(f"(a) one training update, V = {vocab:,}", ("full softmax", full), ("NCE, k = 64", nce),
           "grows with V")

    ctx = torch.randint(vocab, (1000, 1), device=device)
    words = torch.randint(vocab, (1000,), device=device)
    with torch.no_grad():
        normalized = best_time(lambda: lm.log_prob(ctx, words), repeats=10, device=args.device)
        self_norm = best_time(lambda: lm.unnormalized_log_prob(ctx, words), repeats=10, device=args.device)
    report(f"(b) scoring 1,000 words, V = {vocab:,}", ("with the normalizer", normalized),
           ("self-normalized", self_norm), "Devlin et al.: ~15x for their output layer")


if __name__ == "__main__":
    main()
