# Warning and sanitizer flags for pgkit's own targets. Consumers get none of these: they are
# applied per target, never through INTERFACE properties.
include_guard(GLOBAL)

function(pgkit_target_options target)
    if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
        target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
        if(PGKIT_WARNINGS_AS_ERRORS)
            target_compile_options(${target} PRIVATE -Werror)
        endif()
    endif()
endfunction()

# Sanitizers apply to everything pgkit builds (library, tests, benchmarks, examples), appended so
# they never replace the warning flags above.
if(PGKIT_SANITIZE AND PGKIT_TSAN)
    message(FATAL_ERROR "PGKIT_SANITIZE and PGKIT_TSAN cannot be combined")
endif()
if(PGKIT_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
endif()
if(PGKIT_TSAN)
    add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
    add_link_options(-fsanitize=thread)
endif()
