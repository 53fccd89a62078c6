#pragma once

// Which statements pgkit prepared on which libpqxx connection, for statements it runs inside
// libpqxx transactions (repository::in(pqxx_tx)). libpqxx 7 keeps no such record and libpqxx 6
// keeps one pgkit cannot read, so pgkit keeps its own, process-wide, keyed by the connection
// object and its backend's pid (a connection object at a reused address is a new session).
//
// Names are pgkit_pqxx_<hash of the text>: they start with pgkit_, which the pool's reset keeps
// and which libpqxx code must not use, and cannot be taken for the statement cache's pgkit_<n>.
// Two texts with one hash: the second runs unprepared.
//
// Thread-safe.

#include <optional>
#include <string>
#include <string_view>

namespace pgkit::detail::pqxx_statements {

/// How to run `sql` on the connection `conn` (whose backend is `pid`).
struct use {
    std::string name;
    bool prepare = false;  ///< not prepared there yet: prepare it first, then call prepared()
};
/// The name to run `sql` under, or nullopt when it must run unprepared (hash collision).
[[nodiscard]] std::optional<use> lookup(const void* conn, int pid, std::string_view sql);
/// Records that `name` now holds `sql` on `conn`.
void prepared(const void* conn, int pid, const std::string& name, std::string_view sql);
/// Forgets everything about `conn` (closed, or its statements deallocated).
void forget(const void* conn) noexcept;

}  // namespace pgkit::detail::pqxx_statements
