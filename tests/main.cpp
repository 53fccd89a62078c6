// The doctest main of every test executable, with one addition: a run whose filters match no
// test case fails. CTest runs each case on its own with --test-case=<its name>; a name CTest
// registered differently from doctest's (doctest_discover_tests splits a name at ';') would
// otherwise run nothing and pass.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

namespace {

unsigned cases_run = 0;

/// Counts the test cases that passed the filters and ran.
struct case_counter : doctest::IReporter {
    explicit case_counter(const doctest::ContextOptions& /*options*/) {}
    void report_query(const doctest::QueryData& /*data*/) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& stats) override {
        cases_run = stats.numTestCasesPassingFilters;
    }
    void test_case_start(const doctest::TestCaseData& /*data*/) override {}
    void test_case_reenter(const doctest::TestCaseData& /*data*/) override {}
    void test_case_end(const doctest::CurrentTestCaseStats& /*stats*/) override {}
    void test_case_exception(const doctest::TestCaseException& /*exception*/) override {}
    void subcase_start(const doctest::SubcaseSignature& /*signature*/) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData& /*data*/) override {}
    void log_message(const doctest::MessageData& /*data*/) override {}
    void test_case_skipped(const doctest::TestCaseData& /*data*/) override {}
};

REGISTER_LISTENER("pgkit_case_counter", 1, case_counter);

}  // namespace

int main(int argc, char** argv) {
    doctest::Context context{argc, argv};
    const int result = context.run();
    if (context.shouldExit()) {  // --list-test-cases, --help, --count, ...
        return result;
    }
    if (result == 0 && cases_run == 0) {
        std::fputs("no test case matched the filters: nothing was tested\n", stderr);
        return 1;
    }
    return result;
}
