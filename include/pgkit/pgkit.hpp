#pragma once

/// Umbrella header: everything public in pgkit.

#include "pgkit/connection.hpp"
#include "pgkit/connection_options.hpp"
#include "pgkit/error.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/value_traits.hpp"
#include "pgkit/version.hpp"
