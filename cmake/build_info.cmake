# Writes OUT (build_info.cpp) from IN with the version, the git commit of
# SOURCE_DIR and the build type. Run at every build (cmake -P), so the commit
# is that of the tree being built; configure_file rewrites OUT only when its
# text changes, so an unchanged commit recompiles nothing.
#
# Inputs (-D): IN, OUT, SOURCE_DIR, VERSION, BUILD_TYPE.

set(PARLEY_COMMIT "unknown")
find_package(Git QUIET)
if(GIT_FOUND)
  # Only the tree's own checkout: a source tree unpacked inside another
  # repository must not take that repository's commit.
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" rev-parse --show-toplevel
                  RESULT_VARIABLE top_rc OUTPUT_VARIABLE top OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(top_rc EQUAL 0)
    file(REAL_PATH "${top}" top)
    file(REAL_PATH "${SOURCE_DIR}" source)
    if(top STREQUAL source)
      execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" rev-parse HEAD
                      RESULT_VARIABLE rc OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      if(rc EQUAL 0 AND commit MATCHES "^[0-9a-f]+$")
        set(PARLEY_COMMIT "${commit}")
      endif()
    endif()
  endif()
endif()

set(PARLEY_VERSION "${VERSION}")
set(PARLEY_BUILD_TYPE "${BUILD_TYPE}")
if(PARLEY_BUILD_TYPE STREQUAL "")
  set(PARLEY_BUILD_TYPE "unknown")
endif()
configure_file("${IN}" "${OUT}" @ONLY)
