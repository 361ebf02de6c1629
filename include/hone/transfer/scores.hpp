// hone/transfer/scores.hpp — transferability scores: how well a pre-trained model suits a
// target classification task, computed from its features (or its source-class predictions)
// on the target data, before any fine-tuning. Higher is better for every score; the scores
// rank candidate models for one target task and are not comparable across tasks.
//
// Needs Eigen 3.3+: link the hone::eigen component (find_package(hone COMPONENTS eigen),
// Debian's libeigen3-dev); without it including this header is an #error.
//
//   double s = hone::transfer::logme(features, labels);       // features (N, D), labels (N)
//
// Conventions. features is (N, D), one row per target sample; source_probs is (N, Cs), the
// source model's softmax output on the target samples; labels hold N target class indices
// (>= 0). Tensor<float> and Tensor<double> are accepted and everything is computed in double
// (float input is converted first, so it gives exactly the double result of the converted
// values). Classes are the distinct label values; every score needs at least 2 of them
// (a one-class task ranks nothing). log is the natural logarithm.
//
// - LogME (You et al., ICML 2021, "LogME: Practical Assessment of Pre-trained Models for
//   Transfer Learning"). Per class c, Bayesian linear regression of the one-hot y_c (N) on
//   F (N, D): w ~ N(0, I/alpha), y_c | w ~ N(F w, I/beta). With sigma_1..D the eigenvalues of
//   F^T F (sigma_j = 0 for j > k = rank F), A = alpha I + beta F^T F, m = beta A^-1 F^T y_c,
//     L(alpha, beta) = D/2 log alpha + N/2 log beta - N/2 log 2pi
//                      - 1/2 sum_{j=1..D} log(alpha + beta sigma_j)
//                      - beta/2 |y_c - F m|^2 - alpha/2 |m|^2
//   and LogME = mean_c sup_{alpha,beta} L / N. With t = alpha/beta, x = U^T y_c (U: F's left
//   singular vectors), r = |y_c|^2 - |x|^2 and E(t) = sum_{j<=k} x_j^2 t/(sigma_j + t) + r, the
//   best beta is N/E(t), and the D - k zero eigenvalues cancel against D/2 log alpha:
//     sup_beta L = -1/2 sum_{j<=k} log(1 + sigma_j/t) - N/2 log E(t) + N/2 (log N - 1 - log 2pi).
//   The published fixed-point iteration (alpha <- gamma/|m|^2, beta <- (N - gamma)/|y_c - F m|^2,
//   gamma = sum_j sigma_j/(sigma_j + t)) seeks a stationary point of this; on many random
//   problems it needs thousands of steps or runs off to alpha -> inf (y_c not linear in F) or
//   beta -> inf (N <= D: y_c interpolated), where the supremum is a limit. So hone maximises
//   it over u = log t globally: the sign of d/du is scanned with step 1/4 from log sigma_min
//   - 28 (lower for a near-exact fit, to reach the maximum at t = k r/((N - k) sum_j
//   x_j^2/sigma_j) of the asymptotic form) to log sigma_max + 28 (beyond, all sigma_j/t are
//   below 1e-12 and the function is within ~1e-12 N of its limit), every + to - change is
//   refined by safeguarded Newton steps until alpha and beta change by less than tol
//   relatively, and the best of these maxima and the limits
//     t -> inf:          -N/2 log |y_c|^2
//     t -> 0 (k = N):    -1/2 sum_j log sigma_j - N/2 log sum_j x_j^2/sigma_j     (+ the constant)
//   is the value. Eigenvalues of the Gram matrix (F^T F, or F F^T when N < D) at or below
//   max(N, D) eps sigma_max count as zero; r below 1e-3 |y_c|^2 is recomputed as |y_c - U U^T
//   y_c|^2 (the subtraction loses digits); with k < N and r <= 64 max(N, D) eps |y_c|^2 the
//   class is an exact linear function of the features and the evidence is unbounded
//   (InvalidArgument).
//   LogMEOptions::reference reproduces instead thuml/LogME's LogME.fit (LogME.py, the default
//   _fit_fixed_point; not the ICML path each_evidence): alpha = beta = 1, at most 11 steps,
//   stopping when t changes by <= 1e-3 relatively, 1e-5 added to |m|^2 and |y_c - F m|^2 in
//   the updates, log(alpha + beta sigma_j) summed over the kept singular values only (all N
//   when N <= D, those above 1e-10 when N > D) while D/2 log alpha stays, and the evidence taken
//   with the last alpha, beta but |m|^2, |y_c - F m|^2 of the step before. Both modes need
//   every class 0..C-1 (C = max label + 1) to occur: an empty class (y_c = 0) has no maximum.
// - LEEP (Nguyen et al., ICML 2020): theta_i = row i of source_probs, joint P(y, z) = 1/N
//   sum_i theta_i(z) [y_i = y], P(y | z) = P(y, z) / P(z), LEEP = 1/N sum_i log sum_z P(y_i | z)
//   theta_i(z). A source class with P(z) = 0 has theta_i(z) = 0 for all i and is left out
//   (TLlib's code gives NaN). Rows must be probabilities: >= 0, summing to 1 within 1e-4.
// - NCE (Tran et al., ICCV 2019): -H(Y | Z) = sum_{y,z} P(y, z) log P(y | z), Z the source
//   label (given, or the arg max of a source_probs row, ties to the lower index), P the
//   empirical joint. At most 0; 0 when Z determines Y.
// - H-score (Bao et al., ICIP 2019), TLlib's formula: trace(pinv(cov f) cov E[f | y]),
//   cov f = 1/N sum_i (f_i - mu)(f_i - mu)^T, cov E[f | y] = sum_c n_c/N (mu_c - mu)(mu_c - mu)^T.
//   The normalisation cancels (TLlib's np.cov, 1/(N - 1), gives the same value). pinv drops
//   eigenvalues of cov f at or below max(N, D) eps lambda_max (numpy's matrix_rank tolerance;
//   TLlib's rcond = 1e-15 can keep rounding noise when cov f is singular).
// - GBC (Pandy et al., CVPR 2022, "Transferability Estimation using Bhattacharyya Class
//   Separability"): each class a Gaussian with its mean and per-dimension population variance,
//   floored at GbcOptions::variance_floor (1e-4 as google-research's gbc.py), or spherical
//   (the mean of those variances, times I). With s_d = (s_id + s_jd)/2,
//     D_B(i, j) = 1/8 sum_d (mu_id - mu_jd)^2 / s_d + 1/2 sum_d log(s_d / sqrt(s_id s_jd)),
//   BC = exp(-D_B) and GBC = -sum over ordered pairs i != j of BC (twice the unordered sum, as
//   gbc.py). Spherical Gaussians use the same formula, i.e. d/2 log(s / sqrt(s_i s_j)) (gbc.py
//   adds that term once, not d times). Optionally the features are first projected on their
//   top pca_dims principal components (gbc.py's experiments: PCA to 64, spherical; hone's
//   default: no PCA, diagonal).
//
// Cost (m = min(N, D), C target classes, Cs source classes; the input is copied to double):
//   logme    time O(N D m + m^3 + C (N D + D m + 400 k)), memory O(N D + m^2 + m C)
//   leep     time O(N Cs + N log N),                 memory O(N Cs + C Cs)
//   nce      time O(N Cs + N log N + C Cs),          memory O(N Cs + C Cs)
//   h_score  time O(N D^2 + D^3 + C D^2),            memory O(N D + D^2 + C D)
//   gbc      time O(N d + C^2 d), d = D or pca_dims (PCA: + O(N D^2 + D^3)), memory O(N D + C d)
#pragma once

#if !__has_include(<Eigen/Dense>)
// Link hone::eigen: find_package(hone COMPONENTS eigen); Debian: apt install libeigen3-dev.
#error "hone/transfer/scores.hpp needs Eigen 3.3 or later (the hone::eigen component)"
#else

#include <algorithm>  // std::sort, std::unique, std::lower_bound, std::max
#include <cmath>      // std::log, std::log1p, std::exp, std::sqrt, std::abs, std::isfinite
#include <concepts>   // std::same_as for the element-type constraint
#include <cstdint>    // std::int64_t labels
#include <limits>     // machine epsilon
#include <numbers>    // std::numbers::pi
#include <span>       // LabelView's storage
#include <string>     // messages
#include <utility>    // std::move
#include <vector>     // class indices and counts

#include <Eigen/Dense>  // matrices, Gram rank updates, SelfAdjointEigenSolver

#include "hone/core/error.hpp"
#include "hone/core/shape.hpp"
#include "hone/core/tensor.hpp"

namespace hone::transfer {

namespace detail {
/// The feature and probability element types the scores accept.
template <class T>
concept score_scalar = std::same_as<T, float> || std::same_as<T, double>;
}  // namespace detail

/// N class indices, viewed without copying: made implicitly from a std::vector<std::int64_t>,
/// a std::span<const std::int64_t> or a Tensor<std::int64_t> (which must have rank 1; the
/// scores throw ShapeError otherwise). Meant as a parameter type: it does not own the labels.
class LabelView {
 public:
  LabelView(const std::vector<std::int64_t>& labels)  // NOLINT(google-explicit-constructor)
      : values_(labels), shape_{static_cast<std::int64_t>(labels.size())} {}
  LabelView(std::span<const std::int64_t> labels)  // NOLINT(google-explicit-constructor)
      : values_(labels), shape_{static_cast<std::int64_t>(labels.size())} {}
  LabelView(const Tensor<std::int64_t>& labels)  // NOLINT(google-explicit-constructor)
      : values_(labels.defined() ? labels.span() : std::span<const std::int64_t>()),
        shape_(labels.shape()) {}

  std::span<const std::int64_t> values() const noexcept { return values_; }
  /// The shape of the source: (N) for a vector or span, the tensor's shape otherwise.
  const Shape& shape() const noexcept { return shape_; }

 private:
  std::span<const std::int64_t> values_;
  Shape shape_;
};

/// Options of logme(). tol: the maximisation stops when alpha and beta change by less than
/// tol relatively (> 0); max_iter: the most Newton steps per local maximum (>= 1); reference:
/// reproduce thuml/LogME's published numbers instead of the exact maximum (tol and max_iter
/// are then unused: the published code's constants apply).
struct LogMEOptions {
  double tol = 1e-10;
  int max_iter = 1000;
  bool reference = false;
};

/// The class-conditional Gaussians of gbc(): per-dimension variances, or one variance per
/// class (the mean of the per-dimension ones).
enum class GbcCovariance { diagonal, spherical };

/// Options of gbc(). pca_dims: project the features on this many principal components first
/// (0: no projection; at most D). variance_floor: per-dimension variances below it are
/// raised to it (> 0; in squared feature units).
struct GbcOptions {
  GbcCovariance covariance = GbcCovariance::diagonal;
  std::int64_t pca_dims = 0;
  double variance_floor = 1e-4;
};

/// LogME: the mean over classes 0..C-1 of the maximised log evidence of a Bayesian linear
/// regression of each one-hot class indicator on the features, divided by N (nats per
/// sample). features (N, D), labels (N) with every class 0..max present. Throws ShapeError for
/// mismatched shapes and InvalidArgument for a negative label, an empty class, fewer than 2
/// classes, a non-finite feature, bad options, a class that the features fit exactly
/// (unbounded evidence), or a maximisation that does not reach tol within max_iter steps.
template <detail::score_scalar T>
double logme(const Tensor<T>& features, LabelView labels, const LogMEOptions& options = {});

/// LEEP: the mean log-likelihood of the labels under the source model's predictions mapped
/// to target classes by the empirical P(y | z) (nats per sample, <= 0). source_probs (N, Cs)
/// with rows that are probability vectors (within 1e-4), labels (N). Throws ShapeError for
/// mismatched shapes, InvalidArgument for bad probabilities, negative labels or fewer than 2
/// classes.
template <detail::score_scalar T>
double leep(const Tensor<T>& source_probs, LabelView labels);

/// NCE: minus the empirical conditional entropy of the target label given the source label
/// (nats, <= 0). source_labels and labels are (N), non-negative. Throws ShapeError for
/// mismatched lengths and InvalidArgument for negative labels or fewer than 2 target classes.
inline double nce(LabelView source_labels, LabelView labels);

/// NCE with the source label of each sample the arg max of its row of source_probs (N, Cs)
/// (ties to the lower index; any finite scores work, softmax is not needed). Throws as
/// nce(source_labels, labels), and InvalidArgument for non-finite scores.
template <detail::score_scalar T>
double nce(const Tensor<T>& source_probs, LabelView labels);

/// H-score: trace(pinv(cov f) cov E[f | y]), the between-class variance of the features in
/// the metric of their total covariance (dimensionless, between 0 and min(D, C - 1)). features (N, D),
/// labels (N). Throws ShapeError for mismatched shapes, InvalidArgument for non-finite
/// features, negative labels or fewer than 2 classes.
template <detail::score_scalar T>
double h_score(const Tensor<T>& features, LabelView labels);

/// GBC: minus the sum over ordered pairs of distinct classes of the Bhattacharyya coefficient
/// between their Gaussians (between -C(C-1) and 0; 0 is perfectly separated). features
/// (N, D), labels (N). Throws ShapeError for mismatched shapes, InvalidArgument for
/// non-finite features, negative labels, fewer than 2 classes or bad options.
template <detail::score_scalar T>
double gbc(const Tensor<T>& features, LabelView labels, const GbcOptions& options = {});

// --- implementation ------------------------------------------------------------------------

namespace detail {

using hone::detail::concat;

/// Copies an (N, D) tensor into a double matrix; throws ShapeError for another rank or an
/// empty matrix and InvalidArgument naming the first non-finite element.
template <class T>
Eigen::MatrixXd score_matrix(const char* fn, const char* name, const Tensor<T>& t) {
  if (!t.defined() || t.rank() != 2)
    throw ShapeError(
        concat(fn, ": ", name, " must be a matrix (N, D) with one row per sample; got ",
               t.defined() ? concat("shape ", t.shape()) : std::string("an undefined tensor")));
  const std::int64_t rows = t.dim(0), cols = t.dim(1);
  if (rows == 0 || cols == 0)
    throw ShapeError(concat(fn, ": ", name, " of shape ", t.shape(), " is empty"));
  using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const RowMajor> source(t.data(), static_cast<Eigen::Index>(rows),
                                          static_cast<Eigen::Index>(cols));
  Eigen::MatrixXd m = source.template cast<double>();
  if (!m.allFinite()) {
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) {
        const double v = m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
        if (!std::isfinite(v))
          throw InvalidArgument(concat(fn, ": ", name, "[", i, ", ", j, "] is ", v, " (", name,
                                       " has shape ", t.shape(), "); every value must be finite"));
      }
  }
  return m;
}

/// The distinct labels of a score's input and each sample's position among them.
struct ClassIndex {
  std::vector<std::int64_t> classes;       // distinct labels, ascending
  std::vector<Eigen::Index> sample_class;  // per sample, its index into classes
  std::vector<double> counts;              // samples per class
  Eigen::Index size() const noexcept { return static_cast<Eigen::Index>(classes.size()); }
};

/// Checks `name` (rank 1, `rows` values, none negative) and indexes its classes. `rows_of`
/// names the matrix whose rows the labels belong to, for the messages.
inline ClassIndex index_classes(const char* fn, const char* name, const LabelView& labels,
                                std::int64_t rows, const char* rows_of, const Shape& rows_shape) {
  if (labels.shape().rank() != 1)
    throw ShapeError(concat(fn, ": ", name, " must be a vector (N) of class indices; got shape ",
                            labels.shape()));
  const auto values = labels.values();
  if (static_cast<std::int64_t>(values.size()) != rows)
    throw ShapeError(concat(fn, ": ", values.size(), " ", name, " for ", rows_of, " of shape ",
                            rows_shape, "; expected one per row (", rows, ")"));
  ClassIndex index;
  index.classes.assign(values.begin(), values.end());
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i] < 0)
      throw InvalidArgument(
          concat(fn, ": ", name, "[", i, "] is ", values[i], "; class indices must be >= 0"));
  std::sort(index.classes.begin(), index.classes.end());
  index.classes.erase(std::unique(index.classes.begin(), index.classes.end()), index.classes.end());
  index.counts.assign(index.classes.size(), 0.0);
  index.sample_class.resize(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto at = std::lower_bound(index.classes.begin(), index.classes.end(), values[i]);
    const auto c = static_cast<std::size_t>(at - index.classes.begin());
    index.sample_class[i] = static_cast<Eigen::Index>(c);
    index.counts[c] += 1.0;
  }
  return index;
}

/// Throws InvalidArgument when the target labels hold fewer than 2 classes.
inline void require_two_classes(const char* fn, const ClassIndex& index) {
  if (index.classes.size() < 2)
    throw InvalidArgument(concat(fn, ": the labels hold only class ", index.classes.front(),
                                 "; at least 2 classes are needed"));
}

/// Throws InvalidArgument unless the classes are exactly 0..C-1 (LogME's one-hot targets).
inline void require_dense_classes(const char* fn, const ClassIndex& index) {
  for (std::size_t c = 0; c < index.classes.size(); ++c)
    if (index.classes[c] != static_cast<std::int64_t>(c))
      throw InvalidArgument(concat(fn, ": class ", c,
                                   " has no samples; labels must use every class 0..C-1 (here C = ",
                                   index.classes.back() + 1, ")"));
}

// --- LogME ---

/// What LogME needs of F: the retained eigenvalues sigma (k) of F^T F, x = U^T y_c for every
/// class (k, C), and r_c = |y_c|^2 - |x_c|^2, the part of y_c outside the retained directions.
struct LogmeSpectrum {
  Eigen::VectorXd sigma;
  Eigen::MatrixXd x;
  Eigen::VectorXd outside;
};

// f is (N, D); every class 0..C-1 occurs in index.
inline LogmeSpectrum logme_spectrum(const Eigen::MatrixXd& f, const ClassIndex& index,
                                    bool reference) {
  const Eigen::Index n = f.rows(), d = f.cols(), classes = index.size();
  const double eps = std::numeric_limits<double>::epsilon();
  const double size_factor = static_cast<double>(std::max(n, d));
  LogmeSpectrum out;
  std::vector<Eigen::Index> keep;
  // N > D (or N == D outside reference mode): the (D, D) Gram F^T F, x_j = v_j^T F^T y / s_j.
  // Otherwise the (N, N) Gram F F^T, whose eigenvectors are the u_j themselves.
  const bool tall = reference ? n > d : n >= d;
  const Eigen::Index m = tall ? d : n;
  Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(m, m);
  if (tall)
    gram.selfadjointView<Eigen::Lower>().rankUpdate(f.transpose());
  else
    gram.selfadjointView<Eigen::Lower>().rankUpdate(f);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
  if (eig.info() != Eigen::Success)
    throw InternalError(
        concat("logme: the eigen-decomposition of the (", m, ", ", m, ") Gram matrix failed"));
  const Eigen::VectorXd& lambda = eig.eigenvalues();  // ascending
  const double cut = size_factor * eps * std::max(lambda(m - 1), 0.0);
  for (Eigen::Index j = 0; j < m; ++j) {
    // Reference: LogME.py keeps singular values above 1e-10 of a tall F (from numpy's SVD of
    // F^T F, so |lambda|) and all N of a wide one.
    const bool kept =
        reference ? (!tall || std::sqrt(std::abs(lambda(j))) > 1e-10) : lambda(j) > cut;
    if (kept) keep.push_back(j);
  }
  const auto k = static_cast<Eigen::Index>(keep.size());
  out.sigma.resize(k);
  out.x = Eigen::MatrixXd::Zero(k, classes);
  if (tall) {
    Eigen::MatrixXd class_sums = Eigen::MatrixXd::Zero(d, classes);  // F^T Y
    for (Eigen::Index i = 0; i < n; ++i)
      class_sums.col(index.sample_class[static_cast<std::size_t>(i)]) += f.row(i).transpose();
    for (Eigen::Index j = 0; j < k; ++j) {
      const Eigen::Index src = keep[static_cast<std::size_t>(j)];
      out.sigma(j) = reference ? std::abs(lambda(src)) : lambda(src);
      out.x.row(j) =
          (eig.eigenvectors().col(src).transpose() * class_sums) / std::sqrt(out.sigma(j));
    }
  } else {
    for (Eigen::Index j = 0; j < k; ++j) {
      const Eigen::Index src = keep[static_cast<std::size_t>(j)];
      out.sigma(j) = std::max(lambda(src), 0.0);
      for (Eigen::Index i = 0; i < n; ++i)
        out.x(j, index.sample_class[static_cast<std::size_t>(i)]) += eig.eigenvectors()(i, src);
    }
  }
  out.outside.resize(classes);
  for (Eigen::Index c = 0; c < classes; ++c) {
    const double count = index.counts[static_cast<std::size_t>(c)];
    double r = count - out.x.col(c).squaredNorm();
    if (!reference && k < n && r < 1e-3 * count) {
      // A near-exact fit: the subtraction has lost digits, so form y_c minus its projection on
      // the retained directions explicitly (sum_j u_j x_j, with u_j = F v_j / s_j when tall).
      Eigen::VectorXd fitted;
      if (tall) {
        Eigen::VectorXd w = Eigen::VectorXd::Zero(d);
        for (Eigen::Index j = 0; j < k; ++j)
          w += eig.eigenvectors().col(keep[static_cast<std::size_t>(j)]) *
               (out.x(j, c) / std::sqrt(out.sigma(j)));
        fitted = f * w;
      } else {
        fitted = Eigen::VectorXd::Zero(n);
        for (Eigen::Index j = 0; j < k; ++j)
          fitted += eig.eigenvectors().col(keep[static_cast<std::size_t>(j)]) * out.x(j, c);
      }
      r = 0.0;
      for (Eigen::Index i = 0; i < n; ++i) {
        const double target = index.sample_class[static_cast<std::size_t>(i)] == c ? 1.0 : 0.0;
        r += (target - fitted(i)) * (target - fitted(i));
      }
    }
    // Exact: with k == N the retained directions span R^N and nothing is outside.
    out.outside(c) = reference ? r : (k == n ? 0.0 : std::max(r, 0.0));
  }
  return out;
}

/// max_beta of the log evidence as a function of u = log(alpha/beta), without the constant
/// N/2 (log N - 1 - log 2pi), and its first two derivatives in u.
class LogmeProfile {
 public:
  LogmeProfile(const Eigen::VectorXd& sigma, Eigen::VectorXd x2, double outside, double n)
      : sigma_(sigma), x2_(std::move(x2)), outside_(outside), n_(n) {}

  double value(double u) const {
    const double inv_t = std::exp(-u);
    double log_det = 0.0, energy = outside_;
    for (Eigen::Index j = 0; j < sigma_.size(); ++j) {
      const double q = sigma_(j) * inv_t;
      log_det += std::log1p(q);
      energy += x2_(j) / (1.0 + q);
    }
    return -0.5 * log_det - 0.5 * n_ * std::log(energy);
  }

  // d/du = 1/2 sum_j (1 - w_j) - N/2 sum_j x_j^2 w_j (1 - w_j) / E with w_j = t/(sigma_j + t),
  // the stationarity condition of the published fixed-point iteration.
  void derivatives(double u, double& first, double& second) const {
    const double inv_t = std::exp(-u);
    double gamma = 0.0, energy = outside_, e1 = 0.0, e2 = 0.0, curv = 0.0;
    for (Eigen::Index j = 0; j < sigma_.size(); ++j) {
      const double q = sigma_(j) * inv_t;
      const double w = 1.0 / (1.0 + q);
      const double one_minus_w = q * w;
      const double ww = w * one_minus_w;
      gamma += one_minus_w;
      curv += ww;
      energy += x2_(j) * w;
      e1 += x2_(j) * ww;
      e2 += x2_(j) * ww * (1.0 - 2.0 * w);
    }
    first = 0.5 * gamma - 0.5 * n_ * e1 / energy;
    second = -0.5 * curv - 0.5 * n_ * (e2 / energy - (e1 / energy) * (e1 / energy));
  }

  /// The maximum in [a, b] where the derivative goes from > 0 to <= 0: Newton steps, bisecting
  /// when a step leaves the bracket, until u moves by at most tol/2 (alpha = t beta and
  /// beta = N/E(t) then move by at most tol relatively).
  double refine(double a, double b, double tol, int max_iter, std::int64_t label) const {
    double u = 0.5 * (a + b);
    for (int iter = 0; iter < max_iter; ++iter) {
      double first = 0.0, second = 0.0;
      derivatives(u, first, second);
      if (first == 0.0) return value(u);
      if (first > 0.0)
        a = u;
      else
        b = u;
      double next = second < 0.0 ? u - first / second : 0.5 * (a + b);
      if (!(next > a && next < b)) next = 0.5 * (a + b);
      const bool done = std::abs(next - u) <= 0.5 * tol;
      u = next;
      if (done) return value(u);
    }
    throw InvalidArgument(concat("logme: the evidence of class ", label,
                                 " did not reach tol = ", tol, " within max_iter = ", max_iter,
                                 " Newton steps (near log(alpha/beta) = ", u, ")"));
  }

 private:
  const Eigen::VectorXd& sigma_;
  Eigen::VectorXd x2_;
  double outside_;
  double n_;
};

/// The exact maximised log evidence of one class (without the constant), see the header.
inline double logme_class_exact(const Eigen::VectorXd& sigma, const Eigen::VectorXd& x,
                                double outside, double count, Eigen::Index n, Eigen::Index d,
                                const LogMEOptions& options, std::int64_t label) {
  const double nd = static_cast<double>(n);
  const Eigen::Index k = sigma.size();
  double best = -0.5 * nd * std::log(count);  // alpha/beta -> inf: y ~ N(0, I/beta)
  if (k == 0) return best;
  const Eigen::VectorXd x2 = x.array().square();
  const double s = (x2.array() / sigma.array()).sum();
  if (k == n) {
    // alpha/beta -> 0: y ~ N(0, F F^T/alpha) with the best alpha.
    if (s > 0.0) best = std::max(best, -0.5 * sigma.array().log().sum() - 0.5 * nd * std::log(s));
  } else if (outside <= 64.0 * static_cast<double>(std::max(n, d)) *
                            std::numeric_limits<double>::epsilon() * count) {
    throw InvalidArgument(concat("logme: class ", label,
                                 " is an exact linear function of the features (residual ", outside,
                                 " of ", count,
                                 "); its evidence grows without bound as the noise "
                                 "precision beta -> infinity"));
  }
  const LogmeProfile profile(sigma, x2, outside, nd);
  constexpr double margin = 28.0;  // e^28 ~ 1.4e12
  constexpr double step = 0.25;
  double u_lo = std::log(sigma.minCoeff()) - margin;
  const double u_hi = std::log(sigma.maxCoeff()) + margin;
  // Below log sigma_min - 28, E(t) = r + t s to 1e-12 and the function is concave with its
  // maximum at t = k r / ((N - k) s): a near-exact fit (tiny r) puts it lower; scan down to it.
  if (k < n && s > 0.0)
    u_lo = std::min(
        u_lo, std::log(static_cast<double>(k) * outside / (static_cast<double>(n - k) * s)) - 4.0);
  const auto steps = static_cast<int>(std::ceil((u_hi - u_lo) / step));
  best = std::max(best, profile.value(u_lo));
  best = std::max(best, profile.value(u_hi));
  double prev_u = u_lo, prev_slope = 0.0, unused = 0.0;
  profile.derivatives(u_lo, prev_slope, unused);
  for (int i = 1; i <= steps; ++i) {
    const double u = u_lo + (u_hi - u_lo) * static_cast<double>(i) / static_cast<double>(steps);
    double slope = 0.0;
    profile.derivatives(u, slope, unused);
    if (prev_slope > 0.0 && slope <= 0.0)
      best = std::max(best, profile.refine(prev_u, u, options.tol, options.max_iter, label));
    prev_u = u;
    prev_slope = slope;
  }
  return best;
}

/// thuml/LogME's _fit_fixed_point for one class, returning its evidence / N.
inline double logme_class_reference(const Eigen::VectorXd& sigma, const Eigen::VectorXd& x,
                                    double outside, Eigen::Index n, Eigen::Index d) {
  const double nd = static_cast<double>(n), dd = static_cast<double>(d);
  const Eigen::ArrayXd sig = sigma.array();
  const Eigen::ArrayXd x2 = x.array().square();
  double alpha = 1.0, beta = 1.0, m2 = 0.0, res2 = 0.0;
  for (int iter = 0; iter < 11; ++iter) {
    const double t = alpha / beta;
    const double gamma = (sig / (sig + t)).sum();
    m2 = (sig * x2 / (t + sig).square()).sum();
    res2 = (x2 / (1.0 + sig / t).square()).sum() + outside;
    alpha = gamma / (m2 + 1e-5);
    beta = (nd - gamma) / (res2 + 1e-5);
    if (std::abs(alpha / beta - t) / t <= 1e-3) break;
  }
  const double evidence = dd / 2.0 * std::log(alpha) + nd / 2.0 * std::log(beta) -
                          0.5 * (alpha + beta * sig).log().sum() - beta / 2.0 * res2 -
                          alpha / 2.0 * m2 - nd / 2.0 * std::log(2.0 * std::numbers::pi);
  return evidence / nd;
}

/// Checks that each row of p (N, Cs) is a probability vector within 1e-4.
inline void require_probabilities(const char* fn, const Eigen::MatrixXd& p, const Shape& shape) {
  for (Eigen::Index i = 0; i < p.rows(); ++i) {
    for (Eigen::Index z = 0; z < p.cols(); ++z)
      if (p(i, z) < 0.0)
        throw InvalidArgument(
            concat(fn, ": source_probs[", i, ", ", z, "] is ", p(i, z), " (source_probs has shape ",
                   shape, "); probabilities must be >= 0 (pass softmax outputs, not logits)"));
    const double sum = p.row(i).sum();
    if (std::abs(sum - 1.0) > 1e-4)
      throw InvalidArgument(concat(fn, ": row ", i, " of source_probs (shape ", shape, ") sums to ",
                                   sum,
                                   "; each row must sum to 1 within 1e-4 (pass softmax outputs)"));
  }
}

/// -H(Y | Z) from a dense table of counts (target class, source class) over n samples.
inline double negative_conditional_entropy(const Eigen::MatrixXd& counts, double n) {
  double sum = 0.0;
  for (Eigen::Index z = 0; z < counts.cols(); ++z) {
    const double pz = counts.col(z).sum();
    for (Eigen::Index y = 0; y < counts.rows(); ++y)
      if (counts(y, z) > 0.0) sum += counts(y, z) * std::log(counts(y, z) / pz);
  }
  return sum / n;
}

}  // namespace detail

template <detail::score_scalar T>
double logme(const Tensor<T>& features, LabelView labels, const LogMEOptions& options) {
  using hone::detail::concat;
  if (!(options.tol > 0.0) || !std::isfinite(options.tol))
    throw InvalidArgument(
        concat("logme: options.tol is ", options.tol, "; it must be positive and finite"));
  if (options.max_iter < 1)
    throw InvalidArgument(
        concat("logme: options.max_iter is ", options.max_iter, "; it must be >= 1"));
  const Eigen::MatrixXd f = detail::score_matrix("logme", "features", features);
  const auto index = detail::index_classes("logme", "labels", labels, features.dim(0), "features",
                                           features.shape());
  detail::require_two_classes("logme", index);
  detail::require_dense_classes("logme", index);
  const Eigen::Index n = f.rows(), d = f.cols();
  const auto spectrum = detail::logme_spectrum(f, index, options.reference);
  const double constant =
      0.5 * static_cast<double>(n) *
      (std::log(static_cast<double>(n)) - 1.0 - std::log(2.0 * std::numbers::pi));
  double total = 0.0;
  for (Eigen::Index c = 0; c < index.size(); ++c) {
    if (options.reference) {
      total += detail::logme_class_reference(spectrum.sigma, spectrum.x.col(c), spectrum.outside(c),
                                             n, d);
    } else {
      const double best =
          detail::logme_class_exact(spectrum.sigma, spectrum.x.col(c), spectrum.outside(c),
                                    index.counts[static_cast<std::size_t>(c)], n, d, options,
                                    index.classes[static_cast<std::size_t>(c)]);
      total += (best + constant) / static_cast<double>(n);
    }
  }
  return total / static_cast<double>(index.size());
}

template <detail::score_scalar T>
double leep(const Tensor<T>& source_probs, LabelView labels) {
  const Eigen::MatrixXd p = detail::score_matrix("leep", "source_probs", source_probs);
  const auto index = detail::index_classes("leep", "labels", labels, source_probs.dim(0),
                                           "source_probs", source_probs.shape());
  detail::require_two_classes("leep", index);
  detail::require_probabilities("leep", p, source_probs.shape());
  const Eigen::Index n = p.rows(), cs = p.cols();
  Eigen::MatrixXd joint = Eigen::MatrixXd::Zero(index.size(), cs);  // N P(y, z)
  for (Eigen::Index i = 0; i < n; ++i)
    joint.row(index.sample_class[static_cast<std::size_t>(i)]) += p.row(i);
  const Eigen::RowVectorXd pz = joint.colwise().sum();
  for (Eigen::Index z = 0; z < cs; ++z)
    if (pz(z) > 0.0) joint.col(z) /= pz(z);  // now P(y | z); an unused z keeps its zero column
  double sum = 0.0;
  for (Eigen::Index i = 0; i < n; ++i)
    sum += std::log(p.row(i).dot(joint.row(index.sample_class[static_cast<std::size_t>(i)])));
  return sum / static_cast<double>(n);
}

inline double nce(LabelView source_labels, LabelView labels) {
  const auto& shape = source_labels.shape();
  if (shape.rank() != 1)
    throw ShapeError(hone::detail::concat(
        "nce: source_labels must be a vector (N) of class indices; got shape ", shape));
  const auto source = detail::index_classes("nce", "source_labels", source_labels, shape[0],
                                            "source_labels", shape);
  const auto target =
      detail::index_classes("nce", "labels", labels, shape[0], "source_labels", shape);
  detail::require_two_classes("nce", target);
  Eigen::MatrixXd counts = Eigen::MatrixXd::Zero(target.size(), source.size());
  for (std::size_t i = 0; i < target.sample_class.size(); ++i)
    counts(target.sample_class[i], source.sample_class[i]) += 1.0;
  return detail::negative_conditional_entropy(counts,
                                              static_cast<double>(target.sample_class.size()));
}

template <detail::score_scalar T>
double nce(const Tensor<T>& source_probs, LabelView labels) {
  const Eigen::MatrixXd p = detail::score_matrix("nce", "source_probs", source_probs);
  std::vector<std::int64_t> source(static_cast<std::size_t>(p.rows()));
  for (Eigen::Index i = 0; i < p.rows(); ++i) {
    Eigen::Index arg = 0;
    for (Eigen::Index z = 1; z < p.cols(); ++z)
      if (p(i, z) > p(i, arg)) arg = z;
    source[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(arg);
  }
  const auto target = detail::index_classes("nce", "labels", labels, source_probs.dim(0),
                                            "source_probs", source_probs.shape());
  detail::require_two_classes("nce", target);
  Eigen::MatrixXd counts = Eigen::MatrixXd::Zero(target.size(), p.cols());
  for (std::size_t i = 0; i < source.size(); ++i)
    counts(target.sample_class[i], static_cast<Eigen::Index>(source[i])) += 1.0;
  return detail::negative_conditional_entropy(counts, static_cast<double>(source.size()));
}

template <detail::score_scalar T>
double h_score(const Tensor<T>& features, LabelView labels) {
  Eigen::MatrixXd f = detail::score_matrix("h_score", "features", features);
  const auto index = detail::index_classes("h_score", "labels", labels, features.dim(0), "features",
                                           features.shape());
  detail::require_two_classes("h_score", index);
  const Eigen::Index n = f.rows(), d = f.cols();
  const double nd = static_cast<double>(n);
  const Eigen::RowVectorXd mean = f.colwise().mean();
  f.rowwise() -= mean;
  Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(d, d);
  cov.selfadjointView<Eigen::Lower>().rankUpdate(f.transpose(), 1.0 / nd);
  Eigen::MatrixXd class_means = Eigen::MatrixXd::Zero(d, index.size());  // centred
  for (Eigen::Index i = 0; i < n; ++i)
    class_means.col(index.sample_class[static_cast<std::size_t>(i)]) += f.row(i).transpose();
  for (Eigen::Index c = 0; c < index.size(); ++c)
    class_means.col(c) /= index.counts[static_cast<std::size_t>(c)];
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
  if (eig.info() != Eigen::Success)
    throw InternalError(hone::detail::concat("h_score: the eigen-decomposition of the (", d, ", ",
                                             d, ") feature covariance failed"));
  const Eigen::VectorXd& lambda = eig.eigenvalues();
  const double cut = static_cast<double>(std::max(n, d)) * std::numeric_limits<double>::epsilon() *
                     std::max(lambda(d - 1), 0.0);
  // trace(pinv(cov) cov_g) = sum_j (v_j^T cov_g v_j) / lambda_j over the retained j, with
  // v_j^T cov_g v_j = sum_c n_c/N (v_j^T (mu_c - mu))^2.
  const Eigen::MatrixXd projected = eig.eigenvectors().transpose() * class_means;  // (D, C)
  double score = 0.0;
  for (Eigen::Index j = 0; j < d; ++j) {
    if (!(lambda(j) > cut)) continue;
    double between = 0.0;
    for (Eigen::Index c = 0; c < index.size(); ++c)
      between += index.counts[static_cast<std::size_t>(c)] / nd * projected(j, c) * projected(j, c);
    score += between / lambda(j);
  }
  return score;
}

template <detail::score_scalar T>
double gbc(const Tensor<T>& features, LabelView labels, const GbcOptions& options) {
  using hone::detail::concat;
  Eigen::MatrixXd f = detail::score_matrix("gbc", "features", features);
  if (!(options.variance_floor > 0.0) || !std::isfinite(options.variance_floor))
    throw InvalidArgument(concat("gbc: options.variance_floor is ", options.variance_floor,
                                 "; it must be positive and finite"));
  if (options.pca_dims < 0 || options.pca_dims > features.dim(1))
    throw InvalidArgument(concat("gbc: options.pca_dims is ", options.pca_dims,
                                 " for features of shape ", features.shape(),
                                 "; it must be 0 (no PCA) to ", features.dim(1)));
  const auto index =
      detail::index_classes("gbc", "labels", labels, features.dim(0), "features", features.shape());
  detail::require_two_classes("gbc", index);
  const Eigen::Index n = f.rows(), classes = index.size();
  if (options.pca_dims > 0) {
    // Projection on the eigenvectors of the covariance with the largest eigenvalues. Their
    // signs do not change the distances; within a repeated eigenvalue's eigenspace the basis
    // (and so the diagonal Gaussians) is Eigen's choice, as it is numpy's or sklearn's.
    const Eigen::RowVectorXd mean = f.colwise().mean();
    f.rowwise() -= mean;
    Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(f.cols(), f.cols());
    cov.selfadjointView<Eigen::Lower>().rankUpdate(f.transpose(), 1.0 / static_cast<double>(n));
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
    if (eig.info() != Eigen::Success)
      throw InternalError("gbc: the eigen-decomposition of the feature covariance failed");
    const auto dims = static_cast<Eigen::Index>(options.pca_dims);
    f = f * eig.eigenvectors().rightCols(dims);
  }
  const Eigen::Index d = f.cols();
  Eigen::MatrixXd means = Eigen::MatrixXd::Zero(d, classes);
  for (Eigen::Index i = 0; i < n; ++i)
    means.col(index.sample_class[static_cast<std::size_t>(i)]) += f.row(i).transpose();
  for (Eigen::Index c = 0; c < classes; ++c)
    means.col(c) /= index.counts[static_cast<std::size_t>(c)];
  Eigen::MatrixXd variances = Eigen::MatrixXd::Zero(d, classes);  // two-pass population variance
  for (Eigen::Index i = 0; i < n; ++i) {
    const Eigen::Index c = index.sample_class[static_cast<std::size_t>(i)];
    variances.col(c).array() += (f.row(i).transpose() - means.col(c)).array().square();
  }
  for (Eigen::Index c = 0; c < classes; ++c) {
    variances.col(c) /= index.counts[static_cast<std::size_t>(c)];
    variances.col(c) = variances.col(c).cwiseMax(options.variance_floor);
    if (options.covariance == GbcCovariance::spherical)
      variances.col(c).setConstant(variances.col(c).mean());
  }
  // With equal entries per class the diagonal formula is the spherical one.
  double sum = 0.0;
  for (Eigen::Index a = 0; a < classes; ++a)
    for (Eigen::Index b = a + 1; b < classes; ++b) {
      const Eigen::ArrayXd avg = 0.5 * (variances.col(a) + variances.col(b)).array();
      const double distance = ((means.col(a) - means.col(b)).array().square() / avg).sum() / 8.0 +
                              0.5 * (avg.log() - 0.5 * variances.col(a).array().log() -
                                     0.5 * variances.col(b).array().log())
                                        .sum();
      sum += std::exp(-distance);
    }
  return -2.0 * sum;  // ordered pairs: BC(a, b) = BC(b, a)
}

}  // namespace hone::transfer

#endif  // __has_include(<Eigen/Dense>)
