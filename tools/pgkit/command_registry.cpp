#include "command_registry.hpp"

namespace pgkit::cli {

std::vector<command_adder>& registered_commands() {
    static std::vector<command_adder> adders;
    return adders;
}

command_registration::command_registration(command_adder adder) {
    registered_commands().push_back(adder);
}

CLI::App& subcommand_group(CLI::App& app, const std::string& name, const std::string& description) {
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
        if (sub->get_name() == name) {
            return *sub;
        }
    }
    CLI::App* created = app.add_subcommand(name, description);
    created->require_subcommand(1);
    return *created;
}

}  // namespace pgkit::cli
