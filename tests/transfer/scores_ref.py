#!/usr/bin/python3
"""numpy oracle for hone's transferability scores (tests/transfer/test_scores.cpp).

Writes OUTDIR/scores_ref.txt at test time (ctest fixture "transfer-scores-ref", numpy under
/usr/bin/python3): random cases of LEEP, NCE (from source labels and from source
probabilities), H-score and GBC (diagonal, spherical, with and without PCA), each with its
inputs and the float64 score computed here by a straightforward numpy transcription of the
published formulas, written independently of the C++ code:

  LEEP     Nguyen et al. 2020: joint P(y, z) = 1/N sum_i theta_i(z) [y_i = y],
           P(y | z) = P(y, z) / P(z), mean_i log sum_z P(y_i | z) theta_i(z)
  NCE      Tran et al. 2019: sum_{y,z} P(y, z) log P(y | z), Z = source label (np.argmax)
  H-score  TLlib: trace(pinv(np.cov(f)) np.cov(E[f|y])) (np.cov's 1/(N-1) cancels), with
           pinv's cutoff rcond = max(N, D) eps, the one hone documents
  GBC      Pandy et al. 2022 / google-research gbc.py: per-class mean and np.var (ddof 0)
           floored at `floor`, spherical = mean of those, -sum over ordered pairs of
           exp(-Bhattacharyya distance); optional PCA on the top eigenvectors of np.cov

Labels skip values on purpose (classes need not be 0..C-1 for these scores), some source
columns are never used (P(z) = 0), some rows tie for the arg max, some classes have one
sample, and some H-score cases have D >= N (a singular covariance).

Format: whitespace-separated tokens, one record per case:
  <kind> <name> <N> <D> [<covariance> <pca_dims> <floor>]   kind: leep, nce_probs,
          nce_labels (D is 0: no matrix), h_score, gbc
  N*D matrix values (row-major), then N source labels (nce_labels only), N labels,
  then the expected score. The file ends with "end". Floats are repr(), which round-trips.
Usage: scores_ref.py OUTDIR
"""
import os
import sys

import numpy as np

EPS = np.finfo(np.float64).eps


def leep(p, y):
    n, cs = p.shape
    classes = sorted(set(y.tolist()))
    joint = np.zeros((len(classes), cs))
    for i in range(n):
        joint[classes.index(y[i])] += p[i] / n
    pz = joint.sum(axis=0)
    total = 0.0
    for i in range(n):
        row = joint[classes.index(y[i])]
        total += np.log(sum(row[z] / pz[z] * p[i, z] for z in range(cs) if pz[z] > 0))
    return total / n


def nce(z, y):
    n = len(y)
    pairs = {}
    for a, b in zip(z.tolist(), y.tolist()):
        pairs[(a, b)] = pairs.get((a, b), 0) + 1
    pz = {}
    for (a, _), count in pairs.items():
        pz[a] = pz.get(a, 0) + count
    return sum(count / n * np.log(count / pz[a]) for (a, _), count in pairs.items())


def h_score(f, y):
    n, d = f.shape
    covf = np.cov(f, rowvar=False).reshape(d, d)
    g = np.zeros_like(f)
    for c in set(y.tolist()):
        g[y == c] = f[y == c].mean(axis=0)
    covg = np.cov(g, rowvar=False).reshape(d, d)
    return float(np.trace(np.linalg.pinv(covf, rcond=max(n, d) * EPS) @ covg))


def gbc(f, y, covariance, pca_dims, floor):
    if pca_dims > 0:
        centred = f - f.mean(axis=0)
        _, vectors = np.linalg.eigh(np.cov(centred, rowvar=False).reshape(f.shape[1], f.shape[1]))
        f = centred @ vectors[:, -pca_dims:]
    stats = []
    for c in sorted(set(y.tolist())):
        rows = f[y == c]
        var = np.maximum(rows.var(axis=0), floor)
        if covariance == "spherical":
            var = np.full_like(var, var.mean())
        stats.append((rows.mean(axis=0), var))
    total = 0.0
    for i, (mu1, v1) in enumerate(stats):
        for j, (mu2, v2) in enumerate(stats):
            if i == j:
                continue
            avg = (v1 + v2) / 2
            dist = np.sum((mu1 - mu2) ** 2 / avg) / 8 + 0.5 * np.sum(
                np.log(avg) - 0.5 * np.log(v1) - 0.5 * np.log(v2))
            total += np.exp(-dist)
    return -total


def labels_for(rng, n, classes, gap):
    """n labels using every one of `classes` values; with gap, the values skip numbers."""
    values = np.arange(classes) * (3 if gap else 1)
    y = np.concatenate([values, rng.choice(values, n - classes)])
    rng.shuffle(y)
    return y


def clustered(rng, y, d, scale, spread):
    centres = {c: rng.normal(size=d) * spread for c in set(y.tolist())}
    return np.array([centres[c] for c in y.tolist()]) + rng.normal(size=(len(y), d)) * scale


def probabilities(rng, y, cs, unused_column, ties):
    logits = rng.normal(size=(len(y), cs)) * 2
    logits[:, 0] += (y == y.min()) * 2  # some dependence between source and target
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    if unused_column:
        p[:, cs - 1] = 0.0
    p /= p.sum(axis=1, keepdims=True)
    if ties:
        for i in range(0, len(y), 3):
            p[i] = 0.0
            p[i, 0] = p[i, 1 % cs] = 0.5 if cs > 1 else 1.0
    return p


def fmt(values):
    return " ".join(repr(float(v)) for v in np.asarray(values).reshape(-1))


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(20240611)
    records = []

    def add(kind, name, header, matrix, labels, expected, source=None):
        parts = [f"{kind} {name} {header}"]
        if matrix is not None:
            parts.append(fmt(matrix))
        if source is not None:
            parts.append(" ".join(str(int(v)) for v in source))
        parts.append(" ".join(str(int(v)) for v in labels))
        parts.append(repr(float(expected)))
        records.append("\n".join(parts))

    for k in range(8):
        n, cs, classes = int(rng.integers(6, 60)), int(rng.integers(2, 9)), int(rng.integers(2, 6))
        y = labels_for(rng, n, classes, gap=k % 2 == 1)
        p = probabilities(rng, y, cs, unused_column=k % 3 == 2 and cs > 2, ties=False)
        add("leep", f"leep{k}", f"{n} {cs}", p, y, leep(p, y))
        q = probabilities(rng, y, cs, unused_column=False, ties=k % 2 == 0)
        add("nce_probs", f"nce_probs{k}", f"{n} {cs}", q, y, nce(q.argmax(axis=1), y))
        z = rng.integers(0, cs, n) * (2 if k % 2 else 1)
        add("nce_labels", f"nce_labels{k}", f"{n} 0", None, y, nce(z, y), source=z)

    for k in range(8):
        n, d, classes = int(rng.integers(8, 60)), int(rng.integers(1, 10)), int(rng.integers(2, 6))
        if k >= 6:
            n, d = int(rng.integers(5, 9)), int(rng.integers(9, 14))  # singular covariance
        y = labels_for(rng, n, classes, gap=k % 2 == 0)
        f = clustered(rng, y, d, scale=10.0 ** rng.uniform(-1, 1), spread=rng.uniform(0.3, 3))
        add("h_score", f"h_score{k}", f"{n} {d}", f, y, h_score(f, y))

    for k in range(10):
        n, d, classes = int(rng.integers(8, 60)), int(rng.integers(1, 10)), int(rng.integers(2, 6))
        y = labels_for(rng, n, classes, gap=k % 3 == 0)
        if k % 4 == 1:  # a class with a single sample: zero variance, floored
            y = np.concatenate([y, [y.max() + 1]])
            n += 1
        scale = 10.0 ** rng.uniform(-1.5, 0.5)  # class centres about one noise width apart
        f = clustered(rng, y, d, scale=scale, spread=scale * rng.uniform(0.2, 1.2))
        covariance = "spherical" if k % 2 else "diagonal"
        pca = int(rng.integers(1, d + 1)) if k % 3 == 2 else 0
        floor = 1e-4 if k < 8 else 0.05
        add("gbc", f"gbc{k}", f"{n} {d} {covariance} {pca} {floor!r}", f, y,
            gbc(f, y, covariance, pca, floor))

    with open(os.path.join(out_dir, "scores_ref.txt"), "w") as out:
        out.write("\n".join(records) + "\nend\n")


if __name__ == "__main__":
    main()
