// Writers of the scheme comparison report (eval/report.h): markdown (table + recommendation),
// JSON (every number), and a self-contained HTML page with inline SVG plots (size vs perplexity,
// single-stream decode tok/s vs HellaSwag acc_norm) with each plot's Pareto front marked.
#pragma once

#include <string>

#include "eval/report.h"

namespace quanta {

std::string report_table_markdown(const Report& r);
// The table, the recommendation (with its deciding numbers and the budget) and the settings.
std::string report_markdown(const Report& r);
std::string report_json(const Report& r);  // pretty-printed
std::string report_html(const Report& r);

// A scatter plot as an <svg> element: points labelled, the Pareto front (front[i]) drawn as a line
// through its points in x order and their markers filled.
struct PlotPoint {
  double x = 0, y = 0;
  std::string label;
  bool front = false;
};
std::string svg_scatter(const std::string& title, const std::string& x_label, const std::string& y_label,
                        const std::vector<PlotPoint>& points);

}  // namespace quanta
