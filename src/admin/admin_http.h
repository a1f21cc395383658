// Glue between the gateway's HTTP server and the AdminApi (admin_api.h).
//
// The gateway calls serve_admin() for every path is_admin_path() accepts,
// before the stage chain; admin requests are not exchanges (no record, no
// metrics), like /healthz and /metrics.
//
// Threads. Answers that need no data (404 when disabled, 401 without the
// token, the dashboard's embedded files) are written on the I/O thread at
// once, so unauthenticated traffic never queues behind the admin thread. An
// authorized API call is handed to one dedicated admin thread (its own
// io_context) and the connection's coroutine resumes on its I/O thread with the
// answer: the I/O threads never wait on SQLite, and admin calls run one at a
// time, so a dashboard refresh costs the gateway at most one core for a bounded
// time (AdminOptions::max_sync_per_call).
//
// One admin service per (store, audit database, token), created on first use
// (the admin thread opens its store and audit connections itself) and kept
// for the life of the process. If opening fails the call gets 503
// admin_unavailable and the next call tries again.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "admin/admin_api.h"  // is_admin_path
#include "config/config.h"
#include "http/server.h"

namespace dg::admin {

// Writes exactly one response on `conn`.
boost::asio::awaitable<void> serve_admin(const Config& config, http::Request& request, http::Connection& conn);

}  // namespace dg::admin
