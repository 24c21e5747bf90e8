// What happens to a complete request before its handler runs: CORS preflight, 404, API key
// (401), 405, then the route's handler (an exception from it becomes a 500). Internal.
#pragma once

#include "http/Request.h"
#include "http/ResponseWriter.h"
#include "http/ServerCore.h"

#include <memory>

namespace llmrt::http::detail {

void dispatch(const ServerCore &core, const Request &request,
              const std::shared_ptr<ResponseWriter> &writer);

} // namespace llmrt::http::detail
