#pragma once

// The migration linter's statement recognizer (private): reads one statement, as split by
// split_section, with pgkit's SQL lexer and says which of the operations the lint rules judge it
// is (docs/migrations.md, "Lint"). It is deliberately small: what it does not recognise is
// `statement_kind::other` and is never a finding. Also the `-- pgkit:allow <rule> <reason>`
// acknowledgement comments of a section.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit::detail::migrate {

enum class statement_kind : std::uint8_t {
    other,
    set_lock_timeout,   ///< SET [SESSION | LOCAL] lock_timeout ...
    create_table,       ///< CREATE [UNLOGGED | TEMP] TABLE name ...
    create_index,       ///< CREATE [UNIQUE] INDEX [CONCURRENTLY] [name] ON table ...
    drop_index,         ///< DROP INDEX [CONCURRENTLY] [IF EXISTS] name
    reindex,            ///< REINDEX [(...)] INDEX | TABLE [CONCURRENTLY] name
    alter_table,        ///< ALTER TABLE [IF EXISTS] [ONLY] name action [, ...]
    drop_table,         ///< DROP TABLE [IF EXISTS] name
    enum_add_value,     ///< ALTER TYPE name ADD VALUE [IF NOT EXISTS] 'v'
    enum_rename_value,  ///< ALTER TYPE name RENAME VALUE 'a' TO 'b'
    update,             ///< UPDATE [ONLY] name ...
    delete_rows,        ///< DELETE FROM [ONLY] name ...
};

enum class action_kind : std::uint8_t {
    other,
    add_column,
    set_not_null,
    set_type,
    add_check,
    add_foreign_key,
    add_unique,  ///< ADD [CONSTRAINT n] UNIQUE | PRIMARY KEY
    validate_constraint,
    drop_column,
    rename_column,
    rename_table,
};

/// One action of ALTER TABLE.
struct alter_action {
    action_kind kind = action_kind::other;
    std::string column;      ///< the column's name (unquoted: as the catalog has it)
    std::string constraint;  ///< ADD CONSTRAINT name / VALIDATE CONSTRAINT name (as the catalog)
    std::string type;        ///< add_column / set_type: the type as written
    bool has_default = false;
    bool not_null = false;
    bool not_valid = false;
    bool using_index = false;   ///< ADD ... UNIQUE / PRIMARY KEY USING INDEX
    bool using_clause = false;  ///< SET TYPE ... USING expr
    bool generated = false;     ///< GENERATED ... (stored or identity)
    bool default_is_null = false;
    /// Functions the default calls (lower case, unqualified), for their volatility.
    std::vector<std::string> default_functions;
    /// add_check: CHECK (col IS NOT NULL) names this column.
    std::string not_null_check_column;
};

struct recognized_statement {
    statement_kind kind = statement_kind::other;
    std::string table;  ///< the table as written (qualified and quoted as in the text)
    std::string index;  ///< create_index / drop_index / reindex INDEX: the index as written
    bool concurrently = false;
    bool unique = false;
    bool limited = false;  ///< update / delete_rows: has a LIMIT (a batch)
    std::vector<alter_action> actions;
    bool set_local = false;
    /// set_lock_timeout: the value in milliseconds (nullopt: DEFAULT or unreadable).
    std::optional<std::int64_t> lock_timeout_ms;
    std::string enum_value;                    ///< enum_add_value: the new value
    std::vector<std::string> string_literals;  ///< every plain '...' literal's value
};

/// Reads one statement (no trailing ';'). Never fails: what it cannot read is `other`.
[[nodiscard]] recognized_statement recognize_statement(std::string_view statement);

/// A name as the catalog has it: an unquoted identifier folded to lower case, a quoted one
/// without its quotes ("" -> ").
[[nodiscard]] std::string catalog_name(std::string_view token_text);

/// The last part of a possibly qualified name as written, as the catalog has it.
[[nodiscard]] std::string relation_name(std::string_view qualified);

/// `-- pgkit:allow <rule> <reason>` in a section.
struct allow_comment {
    std::size_t line = 0;  ///< 1-based within the section text
    std::string rule;      ///< empty: the comment names no rule
    std::string reason;    ///< empty: no reason given
};

/// Every acknowledgement comment of a section, in order (a section that does not lex gives the
/// ones before the failure).
[[nodiscard]] std::vector<allow_comment> find_allow_comments(std::string_view section);

}  // namespace pgkit::detail::migrate
