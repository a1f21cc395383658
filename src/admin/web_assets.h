// The dashboard's files (web/), embedded into the binary at build time by
// embed_web.cmake, so the gateway serves them with nothing installed beside it.
// Thread-safety: immutable static data.
#pragma once

#include <span>
#include <string_view>

namespace dg::admin {

struct WebAsset {
  std::string_view path;          // e.g. "/dashboard/app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

// Every file of web/, in name order.
std::span<const WebAsset> web_assets();

}  // namespace dg::admin
