// hone/transfer/report.hpp — a transfer-vs-scratch comparison as JSON (everything measured),
// a markdown summary a person can paste into a ticket, and SVG plots drawn by hone itself:
// validation accuracy against training seconds for both runs, and accuracy against images
// per class for a k-shot sweep. The SVGs are self-contained (no scripts, no external fonts)
// and open in any browser.
#pragma once

#include <algorithm>  // std::max, std::min
#include <cmath>      // std::isnan, std::floor, std::log10, std::pow
#include <cstdio>     // std::snprintf
#include <string>     // the documents
#include <vector>     // series

#include "hone/core/json.hpp"
#include "hone/transfer/harness.hpp"

namespace hone::transfer {

namespace detail_report {

inline std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
inline std::string percent(double v) { return std::isnan(v) ? "n/a" : fmt("%.1f %%", 100 * v); }
inline std::string accuracy(double v) { return std::isnan(v) ? "n/a" : fmt("%.3f", v); }
inline std::string seconds(double v) { return std::isnan(v) ? "not reached" : fmt("%.2f s", v); }
inline std::string mib(std::int64_t b) { return b < 0 ? "n/a" : fmt("%.1f MiB", static_cast<double>(b) / 1048576.0); }
inline std::string gflop(double f) { return fmt("%.2f GFLOP", f / 1e9); }

inline void run_json(JsonWriter& j, const RunRecord& r) {
  j.begin_object();
  j.key("final_accuracy").value(r.final_accuracy);
  j.key("best_accuracy").value(r.best_accuracy);
  j.key("train_seconds").value(r.train_seconds);
  j.key("time_to_target_seconds").value(r.time_to_target);
  j.key("epochs_to_target").value(r.epochs_to_target);
  j.key("peak_rss_bytes").value(r.peak_rss_bytes);
  j.key("train_flops").value(r.train_flops);
  j.key("phases").array(r.phases);
  j.key("curve").begin_array();
  for (const auto& e : r.history.epochs) {
    j.begin_object();
    j.key("epoch").value(static_cast<std::int64_t>(e.epoch + 1));
    j.key("seconds").value(e.elapsed);
    j.key("val_accuracy").value(e.val_accuracy);
    j.key("val_loss").value(e.val_loss);
    j.key("train_loss").value(e.train_loss);
    j.end_object();
  }
  j.end_array();
  j.end_object();
}

/// "Nice" tick step for a range (1, 2 or 5 x 10^k), about `count` ticks.
inline double tick_step(double range, int count) {
  if (!(range > 0)) return 1;
  const double raw = range / count;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

inline std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

struct Series {
  std::string name;
  std::string color;
  std::vector<double> x, y;
};

/// A line chart with markers, axes, ticks, grid, labels and a legend. y in [0, 1] (accuracy).
inline std::string line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                              const std::vector<Series>& series, bool log_x = false) {
  const double w = 720, h = 440, left = 70, right = 170, top = 50, bottom = 60;
  const double pw = w - left - right, ph = h - top - bottom;
  double x_min = 0, x_max = 0;
  bool first = true;
  for (const auto& s : series)
    for (double x : s.x) {
      const double v = log_x ? std::log10(std::max(x, 1e-12)) : x;
      if (first) x_min = x_max = v;
      x_min = std::min(x_min, v);
      x_max = std::max(x_max, v);
      first = false;
    }
  if (!log_x) x_min = 0;
  if (!(x_max > x_min)) x_max = x_min + 1;
  const double step = log_x ? 1.0 : tick_step(x_max - x_min, 6);
  if (!log_x) x_max = std::ceil(x_max / step) * step;
  auto px = [&](double x) {
    const double v = log_x ? std::log10(std::max(x, 1e-12)) : x;
    return left + (v - x_min) / (x_max - x_min) * pw;
  };
  auto py = [&](double y) { return top + (1 - std::clamp(y, 0.0, 1.0)) * ph; };
  std::string s;
  s += fmt("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\"", w) + fmt(" height=\"%g\"", h) +
       fmt(" viewBox=\"0 0 %g", w) + fmt(" %g\" font-family=\"sans-serif\" font-size=\"13\">\n", h);
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + fmt("%g", left) + "\" y=\"28\" font-size=\"16\" font-weight=\"bold\">" + escape(title) + "</text>\n";
  // Grid and y ticks (accuracy 0..1 by 0.1).
  for (int i = 0; i <= 10; ++i) {
    const double y = py(i / 10.0);
    s += fmt("<line x1=\"%g\"", left) + fmt(" y1=\"%g\"", y) + fmt(" x2=\"%g\"", left + pw) + fmt(" y2=\"%g\"", y) +
         " stroke=\"#e5e5e5\"/>\n";
    s += fmt("<text x=\"%g\"", left - 8) + fmt(" y=\"%g\" text-anchor=\"end\">", y + 4) + fmt("%.1f", i / 10.0) + "</text>\n";
  }
  // x ticks.
  if (log_x) {
    for (double e = std::ceil(x_min); e <= x_max + 1e-9; e += 1) {
      const double x = left + (e - x_min) / (x_max - x_min) * pw;
      s += fmt("<line x1=\"%g\"", x) + fmt(" y1=\"%g\"", top) + fmt(" x2=\"%g\"", x) + fmt(" y2=\"%g\"", top + ph) +
           " stroke=\"#e5e5e5\"/>\n";
      s += fmt("<text x=\"%g\"", x) + fmt(" y=\"%g\" text-anchor=\"middle\">", top + ph + 18) + fmt("%g", std::pow(10.0, e)) +
           "</text>\n";
    }
    for (const auto& ser : series)
      for (double xv : ser.x)
        s += fmt("<text x=\"%g\"", px(xv)) + fmt(" y=\"%g\" text-anchor=\"middle\" fill=\"#555\" font-size=\"11\">", top + ph + 32) +
             fmt("%g", xv) + "</text>\n";
  } else {
    for (double v = x_min; v <= x_max + step * 1e-9; v += step) {
      const double x = px(v);
      s += fmt("<line x1=\"%g\"", x) + fmt(" y1=\"%g\"", top) + fmt(" x2=\"%g\"", x) + fmt(" y2=\"%g\"", top + ph) +
           " stroke=\"#e5e5e5\"/>\n";
      s += fmt("<text x=\"%g\"", x) + fmt(" y=\"%g\" text-anchor=\"middle\">", top + ph + 18) + fmt("%g", v) + "</text>\n";
    }
  }
  // Axes and labels.
  s += fmt("<line x1=\"%g\"", left) + fmt(" y1=\"%g\"", top + ph) + fmt(" x2=\"%g\"", left + pw) + fmt(" y2=\"%g\"", top + ph) +
       " stroke=\"black\"/>\n";
  s += fmt("<line x1=\"%g\"", left) + fmt(" y1=\"%g\"", top) + fmt(" x2=\"%g\"", left) + fmt(" y2=\"%g\"", top + ph) +
       " stroke=\"black\"/>\n";
  s += fmt("<text x=\"%g\"", left + pw / 2) + fmt(" y=\"%g\" text-anchor=\"middle\">", h - 12) + escape(x_label) + "</text>\n";
  s += fmt("<text x=\"18\" y=\"%g\" text-anchor=\"middle\"", top + ph / 2) + fmt(" transform=\"rotate(-90 18 %g)\">", top + ph / 2) +
       escape(y_label) + "</text>\n";
  // Series.
  double legend_y = top + 10;
  for (const auto& ser : series) {
    std::string points;
    for (std::size_t i = 0; i < ser.x.size() && i < ser.y.size(); ++i) {
      if (std::isnan(ser.y[i])) continue;
      points += fmt("%.2f,", px(ser.x[i])) + fmt("%.2f ", py(ser.y[i]));
    }
    s += "<polyline fill=\"none\" stroke=\"" + ser.color + "\" stroke-width=\"2\" points=\"" + points + "\"/>\n";
    for (std::size_t i = 0; i < ser.x.size() && i < ser.y.size(); ++i) {
      if (std::isnan(ser.y[i])) continue;
      s += fmt("<circle cx=\"%.2f\"", px(ser.x[i])) + fmt(" cy=\"%.2f\" r=\"3\" fill=\"", py(ser.y[i])) + ser.color + "\"/>\n";
    }
    s += fmt("<line x1=\"%g\"", left + pw + 15) + fmt(" y1=\"%g\"", legend_y) + fmt(" x2=\"%g\"", left + pw + 40) +
         fmt(" y2=\"%g\" stroke=\"", legend_y) + ser.color + "\" stroke-width=\"2\"/>\n";
    s += fmt("<text x=\"%g\"", left + pw + 46) + fmt(" y=\"%g\">", legend_y + 4) + escape(ser.name) + "</text>\n";
    legend_y += 22;
  }
  s += "</svg>\n";
  return s;
}

}  // namespace detail_report

/// Everything measured, as JSON.
inline std::string to_json(const Comparison& c) {
  JsonWriter j;
  j.begin_object();
  j.key("train_samples").value(static_cast<std::int64_t>(c.train_samples));
  j.key("val_samples").value(static_cast<std::int64_t>(c.val_samples));
  j.key("num_classes").value(static_cast<std::int64_t>(c.num_classes));
  j.key("target_accuracy").value(c.target_accuracy);
  j.key("time_saving").value(c.time_saving);
  j.key("transfer");
  detail_report::run_json(j, c.transfer);
  j.key("scratch");
  detail_report::run_json(j, c.scratch);
  j.key("sweep").begin_array();
  for (const auto& p : c.sweep) {
    j.begin_object();
    j.key("shots").value(static_cast<std::int64_t>(p.shots));
    j.key("transfer_accuracy").value(p.transfer_accuracy);
    j.key("scratch_accuracy").value(p.scratch_accuracy);
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

/// A markdown summary: one table comparing the runs, the time saving, and the sweep.
inline std::string to_markdown(const Comparison& c) {
  using namespace detail_report;
  std::string s = "## Transfer vs training from scratch\n\n";
  s += hone::detail::concat(c.train_samples, " training images, ", c.val_samples, " validation images, ",
                            c.num_classes, " classes; same recipe, budget and seed for both runs.\n\n");
  s += "| | transfer | scratch |\n|---|---|---|\n";
  s += "| final accuracy | " + accuracy(c.transfer.final_accuracy) + " | " + accuracy(c.scratch.final_accuracy) + " |\n";
  s += "| best accuracy | " + accuracy(c.transfer.best_accuracy) + " | " + accuracy(c.scratch.best_accuracy) + " |\n";
  s += "| time to " + accuracy(c.target_accuracy) + " | " + seconds(c.transfer.time_to_target) + " | " +
       seconds(c.scratch.time_to_target) + " |\n";
  s += hone::detail::concat("| epochs to target | ",
                            c.transfer.epochs_to_target < 0 ? std::string("not reached") : std::to_string(c.transfer.epochs_to_target),
                            " | ",
                            c.scratch.epochs_to_target < 0 ? std::string("not reached") : std::to_string(c.scratch.epochs_to_target),
                            " |\n");
  s += "| training time | " + seconds(c.transfer.train_seconds) + " | " + seconds(c.scratch.train_seconds) + " |\n";
  s += "| peak memory (RSS) | " + mib(c.transfer.peak_rss_bytes) + " | " + mib(c.scratch.peak_rss_bytes) + " |\n";
  s += "| training FLOPs (estimate) | " + gflop(c.transfer.train_flops) + " | " + gflop(c.scratch.train_flops) + " |\n\n";
  s += "Training time saved to reach " + accuracy(c.target_accuracy) + ": **" + percent(c.time_saving) + "**";
  s += c.scratch.best_accuracy > 0 && std::isnan(c.time_saving) ? " (one run never reached the target)\n" : "\n";
  if (!c.sweep.empty()) {
    s += "\n| images per class | transfer | scratch |\n|---|---|---|\n";
    for (const auto& p : c.sweep)
      s += hone::detail::concat("| ", p.shots, " | ", accuracy(p.transfer_accuracy), " | ", accuracy(p.scratch_accuracy), " |\n");
  }
  return s;
}

/// Validation accuracy against training seconds, both runs.
inline std::string svg_accuracy_vs_time(const Comparison& c) {
  detail_report::Series t{"transfer", "#1f77b4", {}, {}}, s{"scratch", "#d62728", {}, {}};
  for (const auto& e : c.transfer.history.epochs) {
    t.x.push_back(e.elapsed);
    t.y.push_back(e.val_accuracy);
  }
  for (const auto& e : c.scratch.history.epochs) {
    s.x.push_back(e.elapsed);
    s.y.push_back(e.val_accuracy);
  }
  return detail_report::line_chart("Validation accuracy during training", "training time (s)",
                                   "validation accuracy", {t, s});
}

/// Accuracy against images per class (log scale), both runs; needs a sweep.
inline std::string svg_accuracy_vs_shots(const Comparison& c) {
  if (c.sweep.empty()) throw InvalidArgument("svg_accuracy_vs_shots: the comparison has no k-shot sweep");
  detail_report::Series t{"transfer", "#1f77b4", {}, {}}, s{"scratch", "#d62728", {}, {}};
  for (const auto& p : c.sweep) {
    t.x.push_back(static_cast<double>(p.shots));
    t.y.push_back(p.transfer_accuracy);
    s.x.push_back(static_cast<double>(p.shots));
    s.y.push_back(p.scratch_accuracy);
  }
  return detail_report::line_chart("Accuracy against training images per class", "images per class (log scale)",
                                   "validation accuracy", {t, s}, true);
}

/// Writes `<prefix>.json`, `<prefix>.md`, `<prefix>-time.svg` and, with a sweep,
/// `<prefix>-shots.svg`. Returns the paths written. Throws IOError naming a file.
inline std::vector<std::string> write_report(const Comparison& c, const std::string& prefix) {
  std::vector<std::string> paths = {prefix + ".json", prefix + ".md", prefix + "-time.svg"};
  write_text_file(paths[0], to_json(c), "the JSON report");
  write_text_file(paths[1], to_markdown(c), "the markdown report");
  write_text_file(paths[2], svg_accuracy_vs_time(c), "the SVG plot");
  if (!c.sweep.empty()) {
    paths.push_back(prefix + "-shots.svg");
    write_text_file(paths[3], svg_accuracy_vs_shots(c), "the SVG plot");
  }
  return paths;
}

}  // namespace hone::transfer
