#pragma once

/// Umbrella header: everything public in pgkit.

#include "pgkit/connection.hpp"
#include "pgkit/connection_options.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/pool_events.hpp"
#include "pgkit/pool_metrics.hpp"
#include "pgkit/pool_options.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/statement_cache.hpp"
#include "pgkit/transaction.hpp"
#include "pgkit/types/array.hpp"
#include "pgkit/types/bytea.hpp"
#include "pgkit/types/chrono.hpp"
#include "pgkit/types/enum_mapping.hpp"
#include "pgkit/types/json.hpp"
#include "pgkit/types/numeric.hpp"
#include "pgkit/types/uuid.hpp"
#include "pgkit/value_traits.hpp"
#include "pgkit/version.hpp"
