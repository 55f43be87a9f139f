#pragma once
// The PostgreSQL schema every Parley adapter shares, as numbered migrations
// (one list, so that versions are unique within a schema; each adapter
// applies the whole list at open, which is idempotent).

#include <vector>

#include "adapters/postgres/pg_pool.hpp"

namespace parley::postgres {

[[nodiscard]] const std::vector<Migration>& schema_migrations();

}  // namespace parley::postgres
