// hone/data/transforms.hpp — image transforms and the pipelines that compose them.
//
// Transforms work on float HWC images (values in [0, 1] until normalised) and end in a
// float CHW tensor, the layout models take. Each is a plain function (resize, crop, flip,
// rotate, colour adjustments, normalise), and a Pipeline chains them, drawing whatever
// randomness it needs from a hone::Generator it is handed, in a fixed order: the same
// generator state gives the same output, on any thread. Presets: imagenet_eval(size) and
// imagenet_train(size), the usual recipes for pretrained ImageNet models.
//
// Sampling convention (resize, resized crops, rotation): pixel centres sit at i + 0.5, so
// output index o of an axis resized from n to m reads source coordinate
// (o + 0.5) * n / m - 0.5 — PyTorch's align_corners=False and OpenCV's INTER_LINEAR.
// Bilinear resampling clamps source coordinates to the image (edge pixels repeat) and does
// no antialiasing; area resampling averages the source interval [o * n/m, (o+1) * n/m)
// of every output pixel exactly, weighting partly covered source pixels by their overlap
// (for whole-number factors: the mean of each block), which is the right filter for
// shrinking an image by a large factor.
#pragma once

#include <algorithm>   // std::clamp, std::min, std::max
#include <array>       // the ImageNet presets
#include <cmath>       // std::floor, std::sqrt, std::log, std::exp, std::round, std::cos, std::sin
#include <cstddef>     // std::size_t
#include <cstdint>     // std::int64_t
#include <functional>  // pipeline steps
#include <numbers>     // std::numbers::pi
#include <type_traits> // std::is_same_v
#include <string>      // step names
#include <utility>     // std::move
#include <vector>      // tap tables, step lists

#include "hone/core/error.hpp"
#include "hone/core/rng.hpp"
#include "hone/core/tensor.hpp"
#include "hone/data/common.hpp"

namespace hone::data {

/// How resize samples the source image (see the file comment for the exact convention).
enum class Interpolation { bilinear, area };

/// A rectangle of an image, in pixels.
struct CropBox {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
  friend bool operator==(const CropBox&, const CropBox&) = default;
};

/// The channel means and standard deviations of ImageNet, in RGB order, on [0, 1] values.
inline constexpr std::array<float, 3> imagenet_mean = {0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> imagenet_std = {0.229f, 0.224f, 0.225f};

namespace detail {

/// For every output index of one axis: the first source index and `taps` weights
/// (zero-padded), so that out[o] = sum_k weight[o*taps + k] * in[first[o] + k].
struct AxisTaps {
  std::vector<std::int64_t> first;
  std::vector<float> weight;
  std::int64_t taps = 0;
};

/// Taps resampling source positions [offset, offset + n) to m outputs.
inline AxisTaps make_taps(std::int64_t offset, std::int64_t n, std::int64_t m, Interpolation mode) {
  AxisTaps t;
  const double scale = static_cast<double>(n) / static_cast<double>(m);
  t.first.resize(static_cast<std::size_t>(m));
  if (mode == Interpolation::bilinear) {
    t.taps = 2;
    t.weight.resize(static_cast<std::size_t>(2 * m));
    for (std::int64_t o = 0; o < m; ++o) {
      const double s = std::max((static_cast<double>(o) + 0.5) * scale - 0.5, 0.0);
      const std::int64_t i0 = std::min(static_cast<std::int64_t>(s), n - 1);
      const double frac = std::min(s - static_cast<double>(i0), 1.0);
      const auto k = static_cast<std::size_t>(2 * o);
      t.first[static_cast<std::size_t>(o)] = offset + i0;
      // At the last source pixel both taps read it (i0 + 1 would be outside).
      t.weight[k] = static_cast<float>(1.0 - frac);
      t.weight[k + 1] = i0 + 1 < n ? static_cast<float>(frac) : 0.0f;
      if (i0 + 1 >= n) t.weight[k] = 1.0f;
    }
    return t;
  }
  t.taps = static_cast<std::int64_t>(std::ceil(scale)) + 1;
  t.weight.assign(static_cast<std::size_t>(t.taps * m), 0.0f);
  for (std::int64_t o = 0; o < m; ++o) {
    const double lo = static_cast<double>(o) * scale, hi = static_cast<double>(o + 1) * scale;
    const auto first = std::min(static_cast<std::int64_t>(std::floor(lo)), n - 1);
    t.first[static_cast<std::size_t>(o)] = offset + first;
    for (std::int64_t k = 0; k < t.taps && first + k < n; ++k) {
      const double a = std::max(lo, static_cast<double>(first + k));
      const double b = std::min(hi, static_cast<double>(first + k + 1));
      if (b > a) t.weight[static_cast<std::size_t>(o * t.taps + k)] = static_cast<float>((b - a) / scale);
    }
  }
  return t;
}

/// 1 for float images; 1/255 for 8-bit ones, which geometric transforms read as value/255.
template <class T>
constexpr float value_scale() noexcept {
  return std::is_same_v<T, std::uint8_t> ? 1.0f / 255.0f : 1.0f;
}

template <class T>
void check_box(const BasicImage<T>& image, const CropBox& box, const char* what) {
  if (box.height <= 0 || box.width <= 0 || box.top < 0 || box.left < 0 ||
      box.top + box.height > image.height || box.left + box.width > image.width)
    throw InvalidArgument(hone::detail::concat(
        what, ": the box (top ", box.top, ", left ", box.left, ", ", box.height, "x", box.width,
        ") is empty or outside the ", image.height, "x", image.width, " image"));
}

}  // namespace detail

/// Resamples the `box` of `image` to out_height x out_width. 8-bit images are read as
/// value / 255 (so the result is in [0, 1] either way). Throws InvalidArgument when the box
/// is empty or outside the image, or the output size is not positive.
template <class T>
Image resize_box(const BasicImage<T>& image, const CropBox& box, std::int64_t out_height,
                 std::int64_t out_width, Interpolation mode = Interpolation::bilinear) {
  detail::check_box(image, box, "resize");
  if (out_height <= 0 || out_width <= 0)
    throw InvalidArgument(hone::detail::concat("resize: the output size ", out_height, "x",
                                               out_width, " must be positive"));
  const detail::AxisTaps tx = detail::make_taps(box.left, box.width, out_width, mode);
  const detail::AxisTaps ty = detail::make_taps(box.top, box.height, out_height, mode);
  const std::int64_t c = image.channels;
  // Horizontal pass over the rows of the box, then the vertical pass.
  Image rows(box.height, out_width, c);
  for (std::int64_t y = 0; y < box.height; ++y) {
    const T* src = image.pixels.data() + ((box.top + y) * image.width) * c;
    float* dst = rows.pixels.data() + y * out_width * c;
    for (std::int64_t ox = 0; ox < out_width; ++ox) {
      const float* w = tx.weight.data() + ox * tx.taps;
      const std::int64_t first = tx.first[static_cast<std::size_t>(ox)];
      for (std::int64_t k = 0; k < c; ++k) {
        float sum = 0.0f;
        for (std::int64_t t = 0; t < tx.taps; ++t)
          if (w[t] != 0.0f) sum += w[t] * static_cast<float>(src[(first + t) * c + k]);
        dst[ox * c + k] = sum * detail::value_scale<T>();
      }
    }
  }
  Image out(out_height, out_width, c);
  const std::int64_t row_size = out_width * c;
  for (std::int64_t oy = 0; oy < out_height; ++oy) {
    const float* w = ty.weight.data() + oy * ty.taps;
    const std::int64_t first = ty.first[static_cast<std::size_t>(oy)] - box.top;
    float* dst = out.pixels.data() + oy * row_size;
    for (std::int64_t t = 0; t < ty.taps; ++t) {
      if (w[t] == 0.0f) continue;
      const float* src = rows.pixels.data() + (first + t) * row_size;
      for (std::int64_t i = 0; i < row_size; ++i) dst[i] += w[t] * src[i];
    }
  }
  return out;
}

/// The whole image resampled to height x width (8-bit images read as value / 255); throws
/// InvalidArgument for an empty image or a non-positive size.
template <class T>
Image resize(const BasicImage<T>& image, std::int64_t height, std::int64_t width,
                    Interpolation mode = Interpolation::bilinear) {
  return resize_box(image, {0, 0, image.height, image.width}, height, width, mode);
}

/// Resizes so that the shorter side becomes `size`, keeping the aspect ratio: the longer
/// side becomes floor(size * longer / shorter) (torchvision's rule). Throws InvalidArgument
/// for an empty image or a non-positive size.
template <class T>
Image resize_shorter(const BasicImage<T>& image, std::int64_t size,
                            Interpolation mode = Interpolation::bilinear) {
  if (size <= 0 || image.height <= 0 || image.width <= 0)
    throw InvalidArgument(hone::detail::concat("resize_shorter: size ", size, " for a ",
                                               image.height, "x", image.width, " image"));
  if (image.height <= image.width)
    return resize(image, size, size * image.width / image.height, mode);
  return resize(image, size * image.height / image.width, size, mode);
}

/// A copy of the `box` of the image (8-bit images read as value / 255); throws
/// InvalidArgument when it is empty or outside.
template <class T>
Image crop(const BasicImage<T>& image, const CropBox& box) {
  detail::check_box(image, box, "crop");
  const std::int64_t c = image.channels;
  Image out(box.height, box.width, c);
  for (std::int64_t y = 0; y < box.height; ++y) {
    const T* src = image.pixels.data() + ((box.top + y) * image.width + box.left) * c;
    float* dst = out.pixels.data() + y * box.width * c;
    for (std::int64_t i = 0; i < box.width * c; ++i) dst[i] = static_cast<float>(src[i]) * detail::value_scale<T>();
  }
  return out;
}

/// The central height x width part: top = (H - height) / 2 and left = (W - width) / 2,
/// rounded down. Throws InvalidArgument when the image is smaller than the crop.
template <class T>
Image center_crop(const BasicImage<T>& image, std::int64_t height, std::int64_t width) {
  return crop(image, {(image.height - height) / 2, (image.width - width) / 2, height, width});
}

/// The image mirrored left to right.
inline Image hflip(const Image& image) {
  Image out(image.height, image.width, image.channels);
  const std::int64_t c = image.channels, w = image.width;
  for (std::int64_t y = 0; y < image.height; ++y) {
    const float* src = image.pixels.data() + y * w * c;
    float* dst = out.pixels.data() + y * w * c;
    for (std::int64_t x = 0; x < w; ++x) std::copy_n(src + (w - 1 - x) * c, c, dst + x * c);
  }
  return out;
}

/// The image rotated counter-clockwise (as displayed) by `degrees` about its centre, same
/// size, bilinear sampling; pixels that come from outside the image get `fill`.
inline Image rotate(const Image& image, double degrees, float fill = 0.0f) {
  const double radians = degrees * std::numbers::pi / 180.0;
  const double cs = std::cos(radians), sn = std::sin(radians);
  const double cx = static_cast<double>(image.width) / 2.0, cy = static_cast<double>(image.height) / 2.0;
  Image out(image.height, image.width, image.channels);
  const std::int64_t c = image.channels;
  for (std::int64_t y = 0; y < image.height; ++y)
    for (std::int64_t x = 0; x < image.width; ++x) {
      const double dx = static_cast<double>(x) + 0.5 - cx, dy = static_cast<double>(y) + 0.5 - cy;
      // Source position (in pixel-index coordinates) of this output pixel's centre.
      const double sx = cs * dx - sn * dy + cx - 0.5, sy = sn * dx + cs * dy + cy - 0.5;
      const double fx = std::floor(sx), fy = std::floor(sy);
      const auto x0 = static_cast<std::int64_t>(fx), y0 = static_cast<std::int64_t>(fy);
      const auto ax = static_cast<float>(sx - fx), ay = static_cast<float>(sy - fy);
      for (std::int64_t k = 0; k < c; ++k) {
        auto sample = [&](std::int64_t yy, std::int64_t xx) {
          return yy >= 0 && yy < image.height && xx >= 0 && xx < image.width ? image.at(yy, xx, k) : fill;
        };
        const float top = (1 - ax) * sample(y0, x0) + ax * sample(y0, x0 + 1);
        const float bottom = (1 - ax) * sample(y0 + 1, x0) + ax * sample(y0 + 1, x0 + 1);
        out.at(y, x, k) = (1 - ay) * top + ay * bottom;
      }
    }
  return out;
}

namespace detail {
inline float luma(const float* p, std::int64_t channels) noexcept {
  return channels >= 3 ? 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2] : p[0];
}
inline float clamp01(float v) noexcept { return std::clamp(v, 0.0f, 1.0f); }
}  // namespace detail

/// Multiplies every value by `factor` and clamps to [0, 1] (torchvision's brightness).
inline void adjust_brightness(Image& image, float factor) {
  for (float& v : image.pixels) v = detail::clamp01(v * factor);
}

/// Blends every value with the image's mean grey level m: m + factor * (v - m), clamped to
/// [0, 1] (torchvision's contrast; grey = 0.299 R + 0.587 G + 0.114 B).
inline void adjust_contrast(Image& image, float factor) {
  const std::int64_t c = image.channels, n = image.height * image.width;
  if (n == 0) return;
  double sum = 0.0;
  for (std::int64_t i = 0; i < n; ++i) sum += detail::luma(image.pixels.data() + i * c, c);
  const auto mean = static_cast<float>(sum / static_cast<double>(n));
  for (float& v : image.pixels) v = detail::clamp01(mean + factor * (v - mean));
}

/// Blends the colour channels (the first 3) of every pixel with its grey level g:
/// g + factor * (v - g), clamped to [0, 1]; images with fewer than 3 channels are left alone.
inline void adjust_saturation(Image& image, float factor) {
  const std::int64_t c = image.channels;
  if (c < 3) return;
  for (std::int64_t i = 0; i < image.height * image.width; ++i) {
    float* p = image.pixels.data() + i * c;
    const float grey = detail::luma(p, c);
    for (int k = 0; k < 3; ++k) p[k] = detail::clamp01(grey + factor * (p[k] - grey));
  }
}

/// Rotates the hue of the colour channels (the first 3) by `shift` turns through HSV, as
/// torchvision's adjust_hue: h' = (h + shift) mod 1, saturation and value kept; grey pixels
/// (no hue) are unchanged and images with fewer than 3 channels are left alone. Throws
/// InvalidArgument unless -0.5 <= shift <= 0.5.
inline void adjust_hue(Image& image, float shift) {
  if (!(shift >= -0.5f && shift <= 0.5f))
    throw InvalidArgument(hone::detail::concat("adjust_hue: shift ", shift,
                                               " is outside [-0.5, 0.5] (a fraction of a turn)"));
  const std::int64_t c = image.channels;
  if (c < 3 || shift == 0.0f) return;
  for (std::int64_t i = 0; i < image.height * image.width; ++i) {
    float* p = image.pixels.data() + i * c;
    const float r = p[0], g = p[1], b = p[2];
    const float v = std::max({r, g, b}), chroma = v - std::min({r, g, b});
    if (chroma <= 0.0f) continue;
    float h = v == r ? (g - b) / chroma : v == g ? (b - r) / chroma + 2.0f : (r - g) / chroma + 4.0f;
    h = h / 6.0f + shift;
    h -= std::floor(h);  // into [0, 1)
    const float s = chroma / v, sector = h * 6.0f;
    const float whole = std::floor(sector), f = sector - whole;
    const float lo = v * (1.0f - s), down = v * (1.0f - s * f), up = v * (1.0f - s * (1.0f - f));
    switch (static_cast<int>(whole) % 6) {
      case 0: p[0] = v, p[1] = up, p[2] = lo; break;
      case 1: p[0] = down, p[1] = v, p[2] = lo; break;
      case 2: p[0] = lo, p[1] = v, p[2] = up; break;
      case 3: p[0] = lo, p[1] = down, p[2] = v; break;
      case 4: p[0] = up, p[1] = lo, p[2] = v; break;
      default: p[0] = v, p[1] = lo, p[2] = down; break;
    }
  }
}

/// (value - mean[c]) / std[c] per channel; `mean` and `std` hold one value per channel or a
/// single value for all. Throws InvalidArgument on a size mismatch or a std that is not > 0.
inline void normalize(Image& image, const std::vector<float>& mean, const std::vector<float>& std) {
  const auto c = static_cast<std::size_t>(image.channels);
  auto fits = [&](const std::vector<float>& v) { return v.size() == 1 || v.size() == c; };
  if (!fits(mean) || !fits(std))
    throw InvalidArgument(hone::detail::concat("normalize: ", mean.size(), " means and ", std.size(),
                                               " standard deviations for an image of ", c,
                                               " channels (give 1 or ", c, " of each)"));
  for (float s : std)
    if (!(s > 0.0f)) throw InvalidArgument(hone::detail::concat("normalize: std ", s, " is not positive"));
  if (c == 0) return;
  std::vector<float> m(c), inv(c);
  for (std::size_t k = 0; k < c; ++k) {
    m[k] = mean[mean.size() == 1 ? 0 : k];
    inv[k] = std[std.size() == 1 ? 0 : k];
  }
  for (std::size_t i = 0; i < image.pixels.size(); i += c)
    for (std::size_t k = 0; k < c; ++k) image.pixels[i + k] = (image.pixels[i + k] - m[k]) / inv[k];
}

/// The image as a float tensor of shape (channels, height, width).
inline Tensor<float> to_chw(const Image& image) {
  Tensor<float> out({image.channels, image.height, image.width});
  const std::int64_t plane = image.height * image.width;
  float* dst = out.data();
  for (std::int64_t i = 0; i < plane; ++i)
    for (std::int64_t k = 0; k < image.channels; ++k)
      dst[k * plane + i] = image.pixels[static_cast<std::size_t>(i * image.channels + k)];
  return out;
}

/// torchvision's RandomResizedCrop box: up to 10 tries of an area fraction uniform in
/// [scale_min, scale_max] and a log-uniform aspect ratio (width / height) in
/// [ratio_min, ratio_max], placed uniformly; otherwise the largest central box whose ratio
/// is clamped into the range. Throws InvalidArgument for an empty image or bad ranges.
inline CropBox sample_resized_crop(std::int64_t height, std::int64_t width, Generator& gen,
                                   std::array<double, 2> scale = {0.08, 1.0},
                                   std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0}) {
  if (height <= 0 || width <= 0 || !(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1) ||
      !(ratio[0] > 0 && ratio[0] <= ratio[1]))
    throw InvalidArgument(hone::detail::concat("random_resized_crop: bad arguments (image ", height, "x",
                                               width, ", scale [", scale[0], ", ", scale[1], "], ratio [",
                                               ratio[0], ", ", ratio[1], "])"));
  const double area = static_cast<double>(height) * static_cast<double>(width);
  const double log_lo = std::log(ratio[0]), log_hi = std::log(ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (scale[0] + (scale[1] - scale[0]) * gen.uniform_double());
    const double aspect = std::exp(log_lo + (log_hi - log_lo) * gen.uniform_double());
    const auto w = static_cast<std::int64_t>(std::round(std::sqrt(target * aspect)));
    const auto h = static_cast<std::int64_t>(std::round(std::sqrt(target / aspect)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const auto top = static_cast<std::int64_t>(gen.uniform_int(static_cast<std::uint64_t>(height - h + 1)));
      const auto left = static_cast<std::int64_t>(gen.uniform_int(static_cast<std::uint64_t>(width - w + 1)));
      return {top, left, h, w};
    }
  }
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  std::int64_t w = width, h = height;
  if (in_ratio < ratio[0])
    h = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::round(static_cast<double>(w) / ratio[0])));
  else if (in_ratio > ratio[1])
    w = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::round(static_cast<double>(h) * ratio[1])));
  return {(height - h) / 2, (width - w) / 2, h, w};
}

/// A sequence of transforms applied to a float HWC image, ending in a (C, H, W) tensor.
/// Random steps draw from the Generator passed to apply() in step order, so the result is
/// a function of the input and the generator state only. Steps are const: one Pipeline
/// may be used from many threads at once. Given an 8-bit image, a pipeline whose first step
/// resamples (resize, resize_shorter, center_crop, random_resized_crop) reads the bytes
/// directly instead of converting the whole image to float first; the result equals that of
/// the float path up to float rounding.
class Pipeline {
 public:
  /// One step: changes the image in place, drawing random numbers from the generator.
  using Step = std::function<void(Image&, Generator&)>;
  /// The same step applied to an 8-bit image (read as value / 255), giving a float image.
  using ByteStep = std::function<Image(const ImageU8&, Generator&)>;

  /// Appends a custom step; `name` appears in names() and in error messages. `from_bytes`,
  /// when given, must compute the same as `step` applied to to_float(image).
  Pipeline& then(std::string name, Step step, ByteStep from_bytes = {}) {
    steps_.push_back({std::move(name), std::move(step), std::move(from_bytes)});
    return *this;
  }

  /// Resize to exactly height x width.
  Pipeline& resize(std::int64_t height, std::int64_t width, Interpolation mode = Interpolation::bilinear) {
    positive("resize", height, width);
    return resampling("resize", [=](const auto& im, Generator&) { return data::resize(im, height, width, mode); });
  }
  /// Resize so the shorter side is `size`, keeping the aspect ratio.
  Pipeline& resize_shorter(std::int64_t size, Interpolation mode = Interpolation::bilinear) {
    positive("resize_shorter", size, size);
    return resampling("resize_shorter", [=](const auto& im, Generator&) { return data::resize_shorter(im, size, mode); });
  }
  /// The central height x width part (the image must be at least that large).
  Pipeline& center_crop(std::int64_t height, std::int64_t width) {
    positive("center_crop", height, width);
    return resampling("center_crop", [=](const auto& im, Generator&) { return data::center_crop(im, height, width); });
  }
  /// torchvision's RandomResizedCrop: a random box (sample_resized_crop) resized to
  /// height x width.
  Pipeline& random_resized_crop(std::int64_t height, std::int64_t width,
                                std::array<double, 2> scale = {0.08, 1.0},
                                std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0},
                                Interpolation mode = Interpolation::bilinear) {
    positive("random_resized_crop", height, width);
    return resampling("random_resized_crop", [=](const auto& im, Generator& gen) {
      const CropBox box = sample_resized_crop(im.height, im.width, gen, scale, ratio);
      return resize_box(im, box, height, width, mode);
    });
  }
  /// Mirrors left-right with probability p (one uniform draw per image).
  Pipeline& random_hflip(double p = 0.5) {
    return then("random_hflip", [=](Image& im, Generator& gen) {
      if (gen.uniform_double() < p) im = hflip(im);
    });
  }
  /// Rotates by an angle uniform in [-max_degrees, max_degrees]; `fill` outside.
  Pipeline& random_rotation(double max_degrees, float fill = 0.0f) {
    return then("random_rotation", [=](Image& im, Generator& gen) {
      im = rotate(im, (2.0 * gen.uniform_double() - 1.0) * max_degrees, fill);
    });
  }
  /// torchvision's ColorJitter: brightness, contrast and saturation factors uniform in
  /// [max(0, 1 - x), 1 + x] and a hue shift uniform in [-hue, hue], applied in a random order
  /// (a permutation drawn first, then the factors in the order b, c, s, h). A zero amount
  /// draws no factor and changes nothing. Throws InvalidArgument for a negative amount or
  /// hue > 0.5.
  Pipeline& color_jitter(float brightness, float contrast, float saturation, float hue = 0.0f) {
    if (brightness < 0 || contrast < 0 || saturation < 0 || hue < 0)
      throw InvalidArgument("color_jitter: the amounts must not be negative");
    if (hue > 0.5f)
      throw InvalidArgument(hone::detail::concat("color_jitter: hue ", hue,
                                                 " is above 0.5 (half a turn)"));
    return then("color_jitter", [=](Image& im, Generator& gen) {
      int order[4] = {0, 1, 2, 3};
      for (int i = 3; i > 0; --i)  // Fisher-Yates
        std::swap(order[i], order[gen.uniform_int(static_cast<std::uint64_t>(i + 1))]);
      auto factor = [&](float amount) {
        const double lo = std::max(0.0, 1.0 - amount), hi = 1.0 + amount;
        return static_cast<float>(lo + (hi - lo) * gen.uniform_double());
      };
      const float fb = brightness > 0 ? factor(brightness) : 1.0f;
      const float fc = contrast > 0 ? factor(contrast) : 1.0f;
      const float fs = saturation > 0 ? factor(saturation) : 1.0f;
      const float fh = hue > 0 ? static_cast<float>((2.0 * gen.uniform_double() - 1.0) * hue) : 0.0f;
      for (int op : order) {
        if (op == 0 && brightness > 0) adjust_brightness(im, fb);
        if (op == 1 && contrast > 0) adjust_contrast(im, fc);
        if (op == 2 && saturation > 0) adjust_saturation(im, fs);
        if (op == 3 && hue > 0) adjust_hue(im, fh);
      }
    });
  }
  /// (value - mean) / std per channel (see normalize()).
  Pipeline& normalize(std::vector<float> mean, std::vector<float> std) {
    return then("normalize", [mean = std::move(mean), std = std::move(std)](Image& im, Generator&) {
      data::normalize(im, mean, std);
    });
  }

  /// Applies the steps in order. Rethrows a step's InvalidArgument with the step named.
  void apply(Image& image, Generator& gen) const { run(image, 0, gen); }
  /// Applies the steps and returns the (C, H, W) tensor.
  Tensor<float> operator()(Image image, Generator& gen) const {
    apply(image, gen);
    return to_chw(image);
  }
  /// Applies the steps to an 8-bit image (read as value / 255; see the class comment).
  Tensor<float> operator()(const ImageU8& image, Generator& gen) const {
    if (steps_.empty() || !steps_.front().from_bytes) return (*this)(to_float(image), gen);
    Image first = named(0, [&] { return steps_.front().from_bytes(image, gen); });
    run(first, 1, gen);
    return to_chw(first);
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& s : steps_) out.push_back(s.name);
    return out;
  }
  std::size_t size() const noexcept { return steps_.size(); }

 private:
  struct Entry {
    std::string name;
    Step step;
    ByteStep from_bytes;
  };

  /// A step with float and 8-bit forms from one generic lambda (image -> Image).
  template <class Fn>
  Pipeline& resampling(std::string name, Fn fn) {
    return then(
        std::move(name), [fn](Image& im, Generator& gen) { im = fn(im, gen); },
        [fn](const ImageU8& im, Generator& gen) { return fn(im, gen); });
  }

  template <class Fn>
  auto named(std::size_t i, Fn&& fn) const -> decltype(fn()) {
    try {
      return fn();
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(e.id(), hone::detail::concat("pipeline step ", i, " (", steps_[i].name, "): ",
                                                         e.message()));
    }
  }

  void run(Image& image, std::size_t from, Generator& gen) const {
    for (std::size_t i = from; i < steps_.size(); ++i) named(i, [&] { steps_[i].step(image, gen); });
  }

  static void positive(const char* what, std::int64_t h, std::int64_t w) {
    if (h <= 0 || w <= 0)
      throw InvalidArgument(hone::detail::concat(what, ": the size ", h, "x", w, " must be positive"));
  }

  std::vector<Entry> steps_;
};

/// The evaluation recipe for an ImageNet-pretrained model with input size x size:
/// shorter side to size * 256 / 224 (area), central size x size, ImageNet normalisation.
/// Pass other mean/std for models trained differently (e.g. one value for grey inputs).
inline Pipeline imagenet_eval(std::int64_t size,
                              std::vector<float> mean = {imagenet_mean.begin(), imagenet_mean.end()},
                              std::vector<float> std = {imagenet_std.begin(), imagenet_std.end()}) {
  Pipeline p;
  p.resize_shorter(size * 256 / 224, Interpolation::area).center_crop(size, size);
  p.normalize(std::move(mean), std::move(std));
  return p;
}

/// The training recipe: random resized crop to size x size (scale [0.08, 1], ratio
/// [3/4, 4/3], bilinear), horizontal flip with probability 0.5, ImageNet normalisation.
inline Pipeline imagenet_train(std::int64_t size,
                               std::vector<float> mean = {imagenet_mean.begin(), imagenet_mean.end()},
                               std::vector<float> std = {imagenet_std.begin(), imagenet_std.end()}) {
  Pipeline p;
  p.random_resized_crop(size, size).random_hflip(0.5);
  p.normalize(std::move(mean), std::move(std));
  return p;
}

}  // namespace hone::data
