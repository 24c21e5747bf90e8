// Pieces of the Prometheus text exposition format 0.0.4: how numbers, label values and help text
// are written, and which metric and label names are valid.
//
// NOTE: the output matches prometheus_client's generate_latest() byte for byte (the reference the
// render tests are made with): numbers as Python's repr() with Go's switch to an exponent from
// 1e6 on for positive values ("1.5e+06"), "+Inf", "-Inf", "NaN"; label values escape backslash,
// newline and double quote; help text escapes backslash and newline.
#pragma once

#include <string>
#include <string_view>

namespace llmrt::metrics {

// The exposition text of a sample value or a bucket bound.
std::string formatValue(double value);
// Appends value with its escapes (backslash, newline, double quote) to out.
void appendEscapedLabelValue(std::string &out, std::string_view value);
// Appends help text with its escapes (backslash, newline) to out.
void appendEscapedHelp(std::string &out, std::string_view help);

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool isValidMetricName(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved for Prometheus itself).
bool isValidLabelName(std::string_view name);

} // namespace llmrt::metrics
